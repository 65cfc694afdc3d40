"""A scripted Runyard server for agent tests.

``FakeServer`` plays the server's side of the agent WebSocket protocol (welcome, URL grants,
assignments, cancels, drops, close codes) and records every frame the agent sends.
``FileStore`` is a tiny signed-URL object store (``http.server`` in a thread) that keeps S3's
observable rules: 403 for an expired or unknown signature, 403 for a PUT without the signed
``Content-Length``/``If-None-Match`` headers, 412 on overwrite.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from runyard_agent import Agent, AgentOptions
from runyard_protocol import (
    OUTCOMES,
    AgentHello,
    AssignedInput,
    AssignedWorkflow,
    ErrorFrame,
    InputUrlGrant,
    InputUrlRequest,
    OutcomeAck,
    OutputUrlGrant,
    OutputUrlRequest,
    RunningTask,
    ServerWelcome,
    TaskAssign,
    TaskPreview,
    dump_frame,
    outcome_kind,
    parse_agent_frame,
)

AGENT_KEY = "ak-test-key-0123456789"
F = TypeVar("F", bound=BaseModel)


ECHO = "runyard_agent.builtins.echo:run"
IMG2IMG = "runyard_agent.builtins.img2img:run"
SLEEP = "runyard_agent.builtins.sleep:run"


class FileStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, name, headers
        self.lock = threading.Lock()
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _grant(self, method: str) -> tuple[str, dict[str, Any] | None]:
                parts = urlsplit(self.path)
                name = unquote(parts.path.removeprefix("/o/"))
                token = parse_qs(parts.query).get("sig", [""])[0]
                with store.lock:
                    store.requests.append((method, name, dict(self.headers.items())))
                    grant = store.tokens.get(token)
                if grant is None or grant["method"] != method or grant["name"] != name:
                    return name, None
                return name, None if grant["expired"] else grant

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                name, grant = self._grant("GET")
                if grant is None:
                    return self._answer(HTTPStatus.FORBIDDEN, b"expired or bad signature")
                data = store.objects.get(name)
                if data is None:
                    return self._answer(HTTPStatus.NOT_FOUND)
                self._answer(HTTPStatus.OK, data)

            def do_PUT(self) -> None:
                name, grant = self._grant("PUT")
                length = self.headers.get("Content-Length")
                body = self.rfile.read(int(length)) if length else b""
                if (
                    grant is None
                    or self.headers.get("If-None-Match") != "*"
                    or length != str(grant["size"])
                    or "chunked" in self.headers.get("Transfer-Encoding", "")
                ):
                    return self._answer(HTTPStatus.FORBIDDEN, b"signature mismatch")
                with store.lock:
                    if name in store.objects:
                        return self._answer(HTTPStatus.PRECONDITION_FAILED)
                    store.objects[name] = body
                self._answer(HTTPStatus.OK)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _url(self, name: str, method: str, **grant: Any) -> str:
        token = secrets.token_hex(8)
        self.tokens[token] = {"name": name, "method": method, "expired": False, **grant}
        return f"{self.base}/o/{quote(name)}?sig={token}&X-Amz-Signature=deadbeef"

    def get_url(self, name: str, *, expired: bool = False) -> str:
        return self._url(name, "GET", expired=expired)

    def put_url(self, name: str, size: int) -> str:
        return self._url(name, "PUT", size=size)

    def count(self, method: str, name: str) -> int:
        return sum(1 for m, n, _ in self.requests if (m, n) == (method, name))


class FakeServer:
    def __init__(self, store: FileStore, heartbeat_interval: float = 0.2) -> None:
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.frames: list[BaseModel] = []
        self.hellos: list[AgentHello] = []
        self.connections: list[ServerConnection] = []
        self.auth_headers: list[str] = []
        self.assigned: dict[str, TaskAssign] = {}
        self.outputs: dict[tuple[str, str], str] = {}  # (task_id, output_id) -> object name
        self.close_after_hello: int | None = None
        self.welcome_drop: list[RunningTask] = []
        self.grant_outputs = True
        self.ack_outcomes = True  # protocol 2: the server acknowledges each outcome
        self.refuse_previews = False  # answer task.preview.v1 as a server without it would
        self.refuse_http: int | None = None
        self.inline_output_max = 0  # what the welcome offers (0: every output through a URL)

    async def start(self) -> None:
        self.server = await serve(self._handle, "127.0.0.1", 0, process_request=self._auth)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def _auth(self, connection: ServerConnection, request: Any) -> Any:
        header = request.headers.get("Authorization", "")
        self.auth_headers.append(header)
        if self.refuse_http:
            return connection.respond(self.refuse_http, "refused\n")
        if request.path != "/api/v1/agent/ws" or header != f"Bearer {AGENT_KEY}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad key\n")
        return None

    @property
    def current(self) -> ServerConnection:
        return self.connections[-1]

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = parse_agent_frame(raw)
                self.frames.append(frame)
                await self._answer(ws, frame)

    async def _answer(self, ws: ServerConnection, frame: BaseModel) -> None:
        if isinstance(frame, AgentHello):
            self.hellos.append(frame)
            if self.close_after_hello is not None:
                await ws.close(self.close_after_hello, "refused by the test")
                return
            welcome = ServerWelcome(
                agent_id=frame.agent_id,
                heartbeat_interval=self.heartbeat_interval,
                drop_tasks=self.welcome_drop,
                inline_output_max=self.inline_output_max,
            )
            await ws.send(dump_frame(welcome))
        elif isinstance(frame, TaskPreview) and self.refuse_previews:
            message = (
                "Input tag 'task.preview.v1' found using 'type' does not match any of the "
                "expected tags: 'agent.hello.v1', 'agent.heartbeat.v1', 'task.ack.v1', ..."
            )
            await ws.send(
                dump_frame(ErrorFrame(error_code="protocol_error", error_message=message))
            )
        elif isinstance(frame, OutputUrlRequest) and self.grant_outputs:
            name = f"outputs/{frame.task_id}/{frame.attempt}/{frame.output_id}-{frame.file_name}"
            self.outputs[(frame.task_id, frame.output_id)] = name
            grant = OutputUrlGrant(
                request_id=frame.request_id,
                task_id=frame.task_id,
                upload_url=self.store.put_url(name, frame.file_size),
                upload_headers={"Content-Length": str(frame.file_size), "If-None-Match": "*"},
            )
            await ws.send(dump_frame(grant))
        elif isinstance(frame, OUTCOMES):
            if self.ack_outcomes:
                ack = OutcomeAck(
                    task_id=frame.task_id,
                    attempt=frame.attempt,
                    outcome=outcome_kind(frame),
                    result="applied",
                )
                await ws.send(dump_frame(ack))
        elif isinstance(frame, InputUrlRequest):
            assign = self.assigned[frame.task_id]
            fresh = [
                item.model_copy(update={"download_url": self.store.get_url(item.file_key)})
                for item in assign.inputs
            ]
            grant = InputUrlGrant(request_id=frame.request_id, task_id=frame.task_id, inputs=fresh)
            await ws.send(dump_frame(grant))

    async def send(self, frame: BaseModel) -> None:
        await self.current.send(dump_frame(frame))

    async def assign(self, frame: TaskAssign) -> None:
        self.assigned[frame.task_id] = frame
        await self.send(frame)

    def of_type(self, kind: type[F], **attrs: Any) -> list[F]:
        return [
            f
            for f in self.frames
            if isinstance(f, kind) and all(getattr(f, k) == v for k, v in attrs.items())
        ]

    async def wait_for(self, kind: type[F], timeout: float = 10.0, **attrs: Any) -> F:
        async with asyncio.timeout(timeout):
            while not (found := self.of_type(kind, **attrs)):
                await asyncio.sleep(0.01)
        return found[0]

    async def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.hellos) < count:
                await asyncio.sleep(0.01)


@pytest.fixture
def store() -> AsyncIterator[FileStore]:
    files = FileStore()
    files.thread.start()
    yield files
    files.server.shutdown()
    files.server.server_close()


@pytest.fixture
async def server(store: FileStore) -> AsyncIterator[FakeServer]:
    fake = FakeServer(store)
    await fake.start()
    yield fake
    await fake.stop()


InputSpec = tuple[str, str, bytes]  # file name, content type, bytes


@pytest.fixture
def make_assign(store: FileStore) -> Callable[..., TaskAssign]:
    def build(
        entrypoint: str,
        *,
        task_id: str = "task-1",
        attempt: int = 1,
        parameters: dict[str, Any] | None = None,
        inputs: dict[str, InputSpec] | None = None,
        expired: bool = False,
    ) -> TaskAssign:
        assigned = []
        for parameter, (name, content_type, data) in (inputs or {}).items():
            key = f"inputs/team/{task_id}-{parameter}/{name}"
            store.objects[key] = data
            assigned.append(
                AssignedInput(
                    parameter=parameter,
                    file_key=key,
                    file_name=name,
                    content_type=content_type,
                    file_size=len(data),
                    download_url=store.get_url(key, expired=expired),
                )
            )
        return TaskAssign(
            task_id=task_id,
            attempt=attempt,
            workflow=AssignedWorkflow(
                id="wf-1",
                slug="wf",
                version=1,
                tool_type="python",
                workflow_json={"entrypoint": entrypoint},
            ),
            parameters={
                **(parameters or {}),
                **{item.parameter: item.file_key for item in assigned},
            },
            inputs=assigned,
        )

    return build


def agent_options(server: FakeServer, work_dir: Path, **overrides: Any) -> AgentOptions:
    settings: dict[str, Any] = {
        "agent_key": AGENT_KEY,
        "agent_id": "agent-1",
        "server_url": server.url,
        "labels": ["cpu", "test"],
        "capacity": 2,
        "work_dir": work_dir,
        "comfyui_url": None,
        "drain_timeout": 5.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "welcome_timeout": 2.0,
        "request_timeout": 5.0,
        "cancel_grace": 0.5,
        "progress_interval": 0.05,
    }
    settings.update(overrides)
    return AgentOptions(**settings)


@pytest.fixture
async def start_agent(server: FakeServer, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    running: list[tuple[Agent, asyncio.Task[None]]] = []

    async def start(wait: bool = True, **overrides: Any) -> tuple[Agent, asyncio.Task[None]]:
        agent = Agent(agent_options(server, tmp_path / "work", **overrides))
        task = asyncio.create_task(agent.run())
        running.append((agent, task))
        if wait:
            await agent.wait_ready(timeout=10)
        return agent, task

    yield start
    for agent, task in running:
        if not task.done():
            agent.stop(force=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
