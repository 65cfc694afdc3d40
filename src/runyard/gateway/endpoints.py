"""``GET /api/v1/agent/ws``: authenticate the ``ak-`` key, take the hello, register, reconcile,
then handle frames until the socket closes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from runyard.agents.health import effective_health
from runyard.agents.service import AgentIdTaken, AgentService
from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy
from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.db.engine import Database
from runyard.errors import RunyardError
from runyard.gateway.batch import can_join, handle_run
from runyard.gateway.handlers import FrameHandler
from runyard.gateway.intake import Intake
from runyard.gateway.lanes import FrameLanes
from runyard.gateway.library import LibraryPusher
from runyard.gateway.reconcile import reconcile_on_hello
from runyard.gateway.registry import Connection, Gateway
from runyard.providers import provided
from runyard.ratelimit import RateLimiter, client_address
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks.execution import AgentRef
from runyard.tasks.transitions import TaskTransitions
from runyard.workflows.preflight import ComfyUICapabilities
from runyard_protocol import (
    PROTOCOL_VERSION,
    AgentHello,
    CloseReason,
    ErrorFrame,
    ServerWelcome,
    TunnelClose,
    TunnelCredit,
    TunnelEof,
    TunnelOpened,
    parse_agent_frame,
)

router = APIRouter(tags=["agents"])
log = logging.getLogger("runyard.gateway")
HELLO_TIMEOUT = 10.0


async def _deny(
    websocket: WebSocket,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    body = {
        "error_message": message,
        "error_code": code,
        "request_id": str(websocket.scope.get("state", {}).get("request_id", "")),
    }
    try:
        await websocket.send_denial_response(
            JSONResponse(body, status_code=status, headers=headers)
        )
    except RuntimeError:  # the server cannot send HTTP denials: close before accepting
        await websocket.close(code=1008)


@router.websocket("/agent/ws")
async def agent_gateway(websocket: WebSocket) -> None:
    """The agent gateway (WebSocket). `Authorization: Bearer ak-…`; see docs/agent-protocol.md."""
    gateway = provided(websocket, "gateway", Gateway)
    settings = provided(websocket, "settings", Settings)
    clock = provided(websocket, "clock", Clock)  # type: ignore[type-abstract]
    db = provided(websocket, "db", Database)
    try:
        await provided(websocket, "rate_limiter", RateLimiter).agent_connect(
            client_address(websocket.client), websocket.headers.get("authorization", "")
        )
        async with db.unit() as uow:
            principal = await authenticate(
                uow.session,
                authorization=websocket.headers.get("authorization"),
                team_header=None,
                policy=Policy.GATEWAY,
                secret_key=settings.token_secrets,
                clock=clock,
            )
    except RunyardError as exc:
        await _deny(websocket, exc.status, exc.code, exc.message, exc.headers)
        return
    if not gateway.accepting:
        await _deny(websocket, 503, "not_ready", "The server is shutting down; reconnect.")
        return
    assert principal.team and principal.key_id
    await websocket.accept()
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
        hello = parse_agent_frame(raw)
    except (TimeoutError, ValidationError, WebSocketDisconnect, KeyError):
        await _close(websocket, CloseReason.PROTOCOL_ERROR)
        return
    if not isinstance(hello, AgentHello):
        await _close(websocket, CloseReason.PROTOCOL_ERROR)
        return
    if hello.protocol_version != PROTOCOL_VERSION:
        await _close(websocket, CloseReason.UNSUPPORTED_PROTOCOL)
        return
    connection_id = new_id()
    me = AgentRef(principal.team, hello.agent_id)
    runtimes = set(hello.runtimes)
    healthy = effective_health(hello.healthy, set(hello.labels), runtimes)
    now = clock.now()
    try:
        async with db.unit() as uow:
            agent = await AgentService(uow).register(
                principal.team,
                principal.key_id,
                hello,
                connection_id,
                now,
                healthy=healthy,
                gateway_url=settings.tunnel.internal_url,
            )
            drop = await reconcile_on_hello(uow, me, hello.running_tasks, clock)
    except AgentIdTaken:
        log.warning("agent_id %r is bound to another key; refusing", hello.agent_id)
        await _close(websocket, CloseReason.AGENT_ID_TAKEN)
        return
    conn = Connection(
        websocket=websocket,
        team_id=principal.team,
        agent_id=hello.agent_id,
        key_id=principal.key_id,
        connection_id=connection_id,
        labels=set(hello.labels),
        capacity=hello.capacity,
        healthy=healthy,
        runtimes=runtimes,
        comfyui=ComfyUICapabilities.of(hello.system_info),
        library_sync=isinstance(hello.system_info.get("library_sync"), dict),
        kept={(r.task_id, r.attempt) for r in hello.running_tasks}
        - {(d.task_id, d.attempt) for d in drop},
        system_info=dict(hello.system_info),
        heartbeat_written=now,
        tunnel_ports=frozenset(hello.tunnel_ports),
        tunnel_exclusive=agent.tunnel_exclusive,
    )
    mux = gateway.attach_mux(conn)
    mux.half_close = hello.tunnel_half_close
    replaced = gateway.add(conn)
    if replaced is not None:
        await gateway.close(replaced, CloseReason.REPLACED)
    log.info(
        "agent connected agent=%s labels=%s capacity=%d",
        hello.agent_id,
        ",".join(sorted(conn.labels)),
        conn.capacity,
    )
    await gateway.send(
        conn,
        ServerWelcome(
            agent_id=hello.agent_id,
            heartbeat_interval=settings.scheduler.heartbeat_interval,
            drop_tasks=drop,
            inline_output_max=(
                settings.local_store.inline_output_max if settings.storage == "local" else 0
            ),
            tunnel_half_close=True,
        ),
    )
    await provided(websocket, "library", LibraryPusher).send_to(conn)
    storage = provided(websocket, "storage", Storage)  # type: ignore[type-abstract]
    transitions = provided(websocket, "transitions", TaskTransitions)
    handler = FrameHandler(db, settings, storage, clock, gateway, conn, transitions)

    async def on_failure(_exc: BaseException) -> None:
        await gateway.close(conn, CloseReason.SERVER_ERROR)

    lanes = FrameLanes(
        functools.partial(handle_run, handler),
        on_failure,
        can_join,
        concurrency=settings.gateway.frame_concurrency,
        backlog=settings.gateway.frame_backlog,
    )
    intake = Intake(settings.gateway, gateway, conn, lanes)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            conn.last_seen = clock.now()  # liveness counts from arrival, whatever the frame
            if (data := message.get("bytes")) is not None:
                mux.feed_data(data)  # tunnel data: never waits (bounded by credit windows)
                continue
            try:
                frame = parse_agent_frame(message.get("text") or "")
            except ValidationError as exc:
                await gateway.send(
                    conn,
                    ErrorFrame(
                        error_code="protocol_error", error_message=str(exc.errors()[0]["msg"])
                    ),
                )
                continue
            if isinstance(frame, TunnelOpened | TunnelCredit | TunnelClose | TunnelEof):
                mux.feed(frame)
                continue
            if not await intake.take(frame):
                await gateway.close(conn, CloseReason.TOO_MANY_FRAMES)
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        mux.close_all(f"The agent {hello.agent_id!r} disconnected from the server.")
        await lanes.close(settings.scheduler.shutdown_grace)
        if gateway.remove(conn):
            async with db.unit() as uow:
                await AgentService(uow).disconnected(conn.team_id, conn.agent_id, connection_id)
        log.info("agent disconnected agent=%s", hello.agent_id)


async def _close(websocket: WebSocket, reason: CloseReason) -> None:
    # A client that left before its hello cannot be told why: nothing to log (issue 32).
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=reason.code, reason=reason.description[:120])
