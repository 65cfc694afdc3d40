"""The stand-in's HTTP routes and WebSocket endpoint (Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

import runyard_testing.comfyui_standin.console as console
from runyard_testing.comfyui_standin.custom_nodes import load_custom_nodes
from runyard_testing.comfyui_standin.engine import Engine
from runyard_testing.comfyui_standin.frontend import OriginOnly
from runyard_testing.comfyui_standin.frontend import routes as frontend_routes
from runyard_testing.comfyui_standin.nodes import MODEL_FOLDERS, NODES, Folders
from runyard_testing.comfyui_standin.page import front_page
from runyard_testing.comfyui_standin.validation import validate_prompt

COMFYUI_VERSION = "0.3.64"
_AIOHTTP_500 = "500 Internal Server Error\n\nServer got itself in trouble"
_Outgoing = str | bytes | None  # None closes the socket


@dataclass(frozen=True)
class StandinOptions:
    data_dir: Path
    node_delay: float = 0.0
    fail_health: bool = False
    extra_messages: bool = False
    preview_size: int = 0
    preview_every_node: bool = False
    max_preview_size: int = 512  # ComfyUI's --preview-size: every preview fits this square


class SocketHub:
    """Open sockets by id (``clientId``); sends are queued per socket, in order."""

    def __init__(self) -> None:
        self.peers: dict[str, asyncio.Queue[_Outgoing]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def add(self, sid: str) -> asyncio.Queue[_Outgoing]:
        queue: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self.peers[sid] = queue
        return queue

    def remove(self, sid: str, queue: asyncio.Queue[_Outgoing]) -> None:
        if self.peers.get(sid) is queue:
            del self.peers[sid]

    def send(self, sid: str | None, kind: str, data: dict[str, Any]) -> None:
        text = json.dumps({"type": kind, "data": data})
        targets = list(self.peers.values()) if sid is None else [self.peers.get(sid)]
        for queue in targets:
            if queue is not None:
                queue.put_nowait(text)

    def send_threadsafe(self, sid: str | None, kind: str, data: dict[str, Any]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.send, sid, kind, copy.deepcopy(data))

    def send_bytes_threadsafe(self, sid: str, payload: bytes) -> None:
        assert self.loop is not None
        queue = self.peers.get(sid)
        if queue is not None:
            self.loop.call_soon_threadsafe(queue.put_nowait, payload)

    def drop_all(self) -> int:
        for queue in self.peers.values():
            queue.put_nowait(None)
        return len(self.peers)


def _inside(base: Path, path: Path) -> bool:
    return os.path.commonpath((base.resolve(), path.resolve())) == str(base.resolve())


def _ram() -> tuple[int, int]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


def create_app(options: StandinOptions) -> Starlette:
    folders = Folders(
        options.data_dir / "input",
        options.data_dir / "output",
        options.data_dir / "temp",
        options.data_dir / "models",
    )
    for folder in (folders.input, folders.output, folders.temp):
        folder.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FOLDERS:
        if name != "custom_nodes":
            (folders.models / name).mkdir(parents=True, exist_ok=True)
    # A fresh ComfyUI checkout ships an example custom node; /models/custom_nodes lists it.
    folders.custom_nodes.mkdir(parents=True, exist_ok=True)
    example = folders.custom_nodes / "example_node.py.example"
    if not example.exists():
        example.write_text("# an example custom node (not a .py file: not loaded)\n")
    # Custom nodes load once, at start, as on the real server (a new package needs a restart).
    NODES.update(load_custom_nodes(folders.custom_nodes, set(NODES)))
    with (options.data_dir / "standin-starts.log").open("a") as starts:
        starts.write(f"{os.getpid()} {sorted(NODES)}\n")  # tests count the starts
    hub = SocketHub()
    engine = Engine(
        folders,
        hub,
        node_delay=options.node_delay,
        extra_messages=options.extra_messages,
        preview_size=options.preview_size,
        preview_every_node=options.preview_every_node,
        max_preview_size=options.max_preview_size,
    )

    async def system_stats(request: Request) -> Response:
        if options.fail_health:
            return PlainTextResponse(_AIOHTTP_500, status_code=500)
        total, free = _ram()
        return JSONResponse(
            {
                "system": {
                    "os": os.name,
                    "ram_total": total,
                    "ram_free": free,
                    "comfyui_version": COMFYUI_VERSION,
                    "python_version": sys.version,
                    "pytorch_version": "2.8.0+cpu",
                    "embedded_python": False,
                    "argv": ["main.py", "--cpu"],
                },
                "devices": [
                    {
                        "name": "cpu",
                        "type": "cpu",
                        "index": None,
                        "vram_total": total,
                        "vram_free": free,
                        "torch_vram_total": total,
                        "torch_vram_free": free,
                    }
                ],
            }
        )

    async def upload_image(request: Request) -> Response:
        form = await request.form()
        image = form.get("image")
        if not isinstance(image, UploadFile) or not image.filename:
            return Response(status_code=400)
        kind = str(form.get("type") or "input")
        subfolder = str(form.get("subfolder") or "")
        base = folders.for_type(kind) or folders.input
        folder = base / subfolder
        filename = image.filename
        if not _inside(base, folder / filename):
            return Response(status_code=400)
        data = await image.read()
        path = folder / filename
        if str(form.get("overwrite", "")).lower() not in ("true", "1"):
            # Same name, different bytes: renamed `photo (1).png`; same bytes: reused.
            stem, ext = os.path.splitext(filename)
            counter = 1
            while path.exists() and path.read_bytes() != data:
                filename = f"{stem} ({counter}){ext}"
                path = folder / filename
                counter += 1
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return JSONResponse({"name": filename, "subfolder": subfolder, "type": kind})

    async def post_prompt(request: Request) -> Response:
        console.got_prompt()
        body = await _json_body(request)
        if not isinstance(body, dict):
            return PlainTextResponse(_AIOHTTP_500, status_code=500)
        if "prompt" not in body:
            error = {"type": "no_prompt", "message": "No prompt provided", "details": ""}
            return JSONResponse(
                {"error": {**error, "extra_info": {}}, "node_errors": []}, status_code=400
            )
        graph = body["prompt"]
        if not isinstance(graph, dict):
            return PlainTextResponse(_AIOHTTP_500, status_code=500)
        graph = {str(k): v for k, v in graph.items()}
        result = validate_prompt(graph, folders)
        if result.error is not None:
            console.invalid_prompt(result.error)
            return JSONResponse(
                {"error": result.error, "node_errors": result.node_errors}, status_code=400
            )
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        extra_data = dict(body.get("extra_data") or {})
        if body.get("client_id"):
            extra_data["client_id"] = body["client_id"]
        number = engine.submit(
            graph, prompt_id, extra_data, result.good_outputs, front=bool(body.get("front"))
        )
        return JSONResponse(
            {"prompt_id": prompt_id, "number": number, "node_errors": result.node_errors}
        )

    async def get_prompt(request: Request) -> Response:
        return JSONResponse({"exec_info": {"queue_remaining": engine.queue_remaining()}})

    async def get_queue(request: Request) -> Response:
        running = [engine.running.as_list()] if engine.running else []
        pending = [item.as_list() for item in engine.pending]
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def post_queue(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, dict):
            if body.get("clear"):
                engine.delete([item.prompt_id for item in engine.pending])
            if isinstance(body.get("delete"), list):
                engine.delete([str(i) for i in body["delete"]])
        return Response(status_code=200)

    async def interrupt(request: Request) -> Response:
        body = await _json_body(request)
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        engine.interrupt(str(prompt_id) if prompt_id else None)
        return Response(status_code=200)

    async def history(request: Request) -> Response:
        prompt_id = request.path_params.get("prompt_id")
        if prompt_id is None:
            return JSONResponse(copy.deepcopy(engine.history))
        entry = engine.history.get(prompt_id)
        return JSONResponse({prompt_id: copy.deepcopy(entry)} if entry else {})

    async def view(request: Request) -> Response:
        filename = request.query_params.get("filename")
        if not filename:
            return Response(status_code=404)
        subfolder = request.query_params.get("subfolder", "")
        if filename.startswith("/") or ".." in filename or ".." in subfolder:
            return Response(status_code=400)
        base = folders.for_type(request.query_params.get("type", "output")) or folders.output
        path = base / subfolder / filename
        if not _inside(base, path):
            return Response(status_code=403)
        if not path.is_file():
            return Response(status_code=404)
        media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileResponse(
            path, media_type=media_type, headers={"Content-Disposition": f'filename="{filename}"'}
        )

    async def object_info(request: Request) -> Response:
        class_type = request.path_params.get("node_class")
        if class_type is None:
            return JSONResponse({name: spec.object_info(folders) for name, spec in NODES.items()})
        spec = NODES.get(class_type)
        return JSONResponse({class_type: spec.object_info(folders)} if spec else {})

    async def models(request: Request) -> Response:
        folder = request.path_params.get("folder")
        if folder is None:
            return JSONResponse(list(MODEL_FOLDERS))
        if folder not in MODEL_FOLDERS:
            return Response(status_code=404)
        return JSONResponse(folders.model_files(folder))

    async def drop_sockets(request: Request) -> Response:
        # Test hook (not a ComfyUI route): close every socket, as a network blip would.
        return JSONResponse({"dropped": hub.drop_all()})

    async def websocket(ws: WebSocket) -> None:
        sid = ws.query_params.get("clientId") or uuid.uuid4().hex
        await ws.accept()
        queue = hub.add(sid)
        status = {"exec_info": {"queue_remaining": engine.queue_remaining()}}
        await ws.send_text(json.dumps({"type": "status", "data": {"status": status, "sid": sid}}))
        running = engine.running
        if running and running.client_id == sid and engine.last_node_id:
            # ComfyUI tells a reconnecting client which node runs (without a prompt_id).
            await ws.send_text(
                json.dumps({"type": "executing", "data": {"node": engine.last_node_id}})
            )

        async def pump() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    await ws.close(code=1011)
                    return
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_text(item)

        sender = asyncio.create_task(pump())
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.remove(sid, queue)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()
        worker = asyncio.create_task(engine.worker())
        try:
            yield
        finally:
            engine.interrupt(None)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    routes = [
        Route("/system_stats", system_stats),
        Route("/upload/image", upload_image, methods=["POST"]),
        Route("/prompt", post_prompt, methods=["POST"]),
        Route("/prompt", get_prompt, methods=["GET"]),
        Route("/queue", get_queue, methods=["GET"]),
        Route("/queue", post_queue, methods=["POST"]),
        Route("/interrupt", interrupt, methods=["POST"]),
        Route("/history", history),
        Route("/history/{prompt_id}", history),
        Route("/view", view),
        Route("/object_info", object_info),
        Route("/object_info/{node_class}", object_info),
        Route("/models", models),
        Route("/models/{folder}", models),
        Route("/_standin/drop_sockets", drop_sockets, methods=["POST"]),
        WebSocketRoute("/ws", websocket),
        Route("/", front_page),
    ]
    # ComfyUI serves its API under /api/ too; its frontend calls those absolute paths.
    routes += [
        Route("/api" + route.path, route.endpoint, methods=route.methods)
        for route in list(routes)
        if isinstance(route, Route) and route.path not in ("/", "/_standin/drop_sockets")
    ]
    routes += frontend_routes()  # what the real frontend calls beyond the prompt API
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(OriginOnly)])
    app.state.engine = engine
    return app
