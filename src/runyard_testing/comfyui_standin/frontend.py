"""What ComfyUI's real frontend (``comfyui-frontend-package`` 1.27.10, with ComfyUI 0.3.64) does
beyond the prompt API, as seen through a tunnel (docs/comfyui.md, "The real frontend through a
tunnel"), so the stand-in's page exercises the proxy the same way:

- a large JavaScript bundle (the real ``/assets/index-….js`` is 10.9 MB, uncompressed) that
  imports many small ES modules (437 ``.mjs`` requests on the first load);
- its settings: ``GET /api/settings``, ``POST /api/settings/{id}`` (a JSON value);
- user data listings with query strings (``/api/userdata?dir=workflows&recurse=true…``),
  answered 404 when the folder does not exist yet;
- ComfyUI's origin-only check: on a loopback ``Host``, a request whose ``Origin`` names another
  host is refused with 403 (so a proxy must present a matching pair).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

BUNDLE_BYTES = 4 * 1024 * 1024
MODULES = 24
_JS = "text/javascript; charset=utf-8"


@cache
def _bundle() -> bytes:
    head = (
        f"const parts = await Promise.all(Array.from({{length: {MODULES}}}, (_, i) =>\n"
        "  import(`/assets/part-${i}.mjs?v=1`)));\n"
        f"window.standinBundle = {{bytes: {BUNDLE_BYTES}, "
        "modules: parts.filter((p) => p.ok).length};\n"
    ).encode()
    line = b"// " + b"0123456789abcdef" * 6 + b"\n"
    filler = line * ((BUNDLE_BYTES - len(head)) // len(line))
    return head + filler + b" " * (BUNDLE_BYTES - len(head) - len(filler))


async def bundle(request: Request) -> Response:
    return Response(_bundle(), media_type=_JS)


async def module_part(request: Request) -> Response:
    index = int(request.path_params["index"])
    if not 0 <= index < MODULES:
        return PlainTextResponse("404: Not Found", status_code=404)
    return Response(f"export const ok = true; export const index = {index};\n", media_type=_JS)


def routes() -> list[Route]:
    settings: dict[str, Any] = {}

    async def get_settings(request: Request) -> JSONResponse:
        return JSONResponse(settings)

    async def post_setting(request: Request) -> Response:
        settings[request.path_params["setting_id"]] = json.loads(await request.body())
        return Response(status_code=200)

    async def userdata(request: Request) -> Response:
        if not request.query_params.get("dir"):
            return PlainTextResponse("", status_code=400)
        return JSONResponse("Directory not found", status_code=404)

    async def userdata_file(request: Request) -> Response:
        return Response(status_code=404)

    return [
        Route("/api/settings", get_settings),
        Route("/api/settings/{setting_id}", post_setting, methods=["POST"]),
        Route("/api/userdata", userdata),
        Route("/api/userdata/{file:path}", userdata_file),
        Route("/assets/index.js", bundle),
        Route("/assets/part-{index:int}.mjs", module_part),
    ]


class OriginOnly:
    """ComfyUI's ``origin_only_middleware``: a loopback ``Host`` with an ``Origin`` of another
    host is answered 403 (HTTP and WebSocket upgrades alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not _same_origin(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await PlainTextResponse("", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _same_origin(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    host, origin = headers.get(b"host"), headers.get(b"origin")
    if host is None or origin is None:
        return True
    host_parts = urlsplit("//" + host.decode("latin-1").lower())
    origin_parts = urlsplit(origin.decode("latin-1").lower())
    if host_parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return True
    host_name = host_parts.netloc if origin_parts.port is not None else host_parts.hostname
    origin_name = origin_parts.netloc if host_parts.port is not None else origin_parts.hostname
    return not host_name or not origin_name or host_name == origin_name
