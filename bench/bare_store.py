"""The byte rows' baseline: a bare Starlette app that streams a PUT body to a file on the same
disk as the embedded store (fdatasync at the end, as the store does) and serves it back on GET.
Run: ``python -m bench.bare_store --port N --root DIR`` (uvicorn, as ``runyard serve`` is)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route


def build(root: Path) -> Starlette:
    async def put(request: Request) -> Response:
        target = root / request.path_params["name"]
        with target.open("wb") as file:
            async for chunk in request.stream():
                file.write(chunk)
            file.flush()
            os.fdatasync(file.fileno())
        return Response(status_code=200)

    async def get(request: Request) -> Response:
        return FileResponse(root / request.path_params["name"])

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/bare/{name}", put, methods=["PUT"]),
            Route("/bare/{name}", get, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    uvicorn.run(build(args.root), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
