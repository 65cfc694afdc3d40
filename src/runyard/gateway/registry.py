"""Live agent connections of this process, and sending frames to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketState

from runyard.tasks.execution import Slot
from runyard.tasks.previews import PreviewStore
from runyard.workflows.preflight import ComfyUICapabilities
from runyard_protocol import (
    CloseReason,
    Mux,
    PriorityGate,
    RunningTask,
    TaskCancel,
    dump_frame,
)

log = logging.getLogger("runyard.gateway")
KNOWN_ATTEMPTS = 1024


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    team_id: str
    agent_id: str
    key_id: str
    connection_id: str
    labels: set[str]
    capacity: int
    healthy: bool = True
    draining: bool = False
    runtimes: set[str] = field(default_factory=lambda: {"python"})
    # Node classes and models of its ComfyUI, when the agent reported them (else unknown).
    comfyui: ComfyUICapabilities | None = None
    #: The agent keeps the team's model library (its hello reported ``library_sync``).
    library_sync: bool = False
    # Every send goes through the gate: frames before tunnel data (runyard_protocol.mux).
    gate: PriorityGate = field(default_factory=PriorityGate)
    #: The tunnel streams relayed over this connection (set once the hello is taken).
    mux: Mux | None = None
    #: Ports on the agent's 127.0.0.1 it lets tunnels reach (from its hello).
    tunnel_ports: frozenset[int] = frozenset()
    #: An exclusive tunnel is open to the agent: no tasks go to it (status ``tunnel``).
    tunnel_exclusive: bool = False
    cancels_sent: set[tuple[str, int]] = field(default_factory=set)
    last_progress_store: dict[str, float] = field(default_factory=dict)
    last_preview_event: dict[str, float] = field(default_factory=dict)
    #: Bytes of console lines stored per task from this connection (``handlers.LOG_BYTES``).
    log_bytes: dict[str, int] = field(default_factory=dict)
    #: Every output slot of the attempts assigned on this connection, per (task, attempt), in
    #: the order granted; an attempt absent here (assigned before a reconnect, or forgotten) has
    #: its slots read from the database instead.
    granted: dict[tuple[str, int], dict[str, Slot]] = field(default_factory=dict)
    #: When the last frame of any kind arrived (the reaper's liveness for agents of this process).
    last_seen: datetime | None = None
    #: The ``last_heartbeat`` last written to the database (``gateway/liveness.py``).
    heartbeat_written: datetime | None = None
    #: The ``system_info`` last written (a heartbeat that changes it is written at once).
    system_info: dict[str, Any] | None = None
    #: The tasks the last heartbeat reported, all assigned on this connection: checked against
    #: the database by the liveness writer, in one read for every connection.
    reported: list[RunningTask] = field(default_factory=list)
    #: The attempts the agent reported running in its hello and the server let it keep.
    kept: set[tuple[str, int]] = field(default_factory=set)

    def holds(self, task_id: str, attempt: int) -> bool:
        """Whether the attempt was assigned on (or kept by) this connection: frames of other
        attempts are stray (``gateway/intake.py``)."""
        return (task_id, attempt) in self.granted or (task_id, attempt) in self.kept

    def assigned(self, task_id: str, attempt: int) -> None:
        """An attempt was assigned on this connection: it has no slot yet, and every slot it
        gets is granted here. The oldest are forgotten beyond ``KNOWN_ATTEMPTS`` (attempts that
        ended without an outcome on this connection: reaped, or cancelled)."""
        self.granted[(task_id, attempt)] = {}
        while len(self.granted) > KNOWN_ATTEMPTS:
            del self.granted[next(iter(self.granted))]


class Gateway:
    def __init__(self) -> None:
        self._by_agent: dict[tuple[str, str], Connection] = {}
        self.accepting = True
        self.previews = PreviewStore()  # the latest live preview of tasks run by our agents
        # Stray frames per connection id (gateway/intake.py), in this process's memory.
        self.strays = FixedWindowRateLimiter(MemoryStorage())

    def add(self, conn: Connection) -> Connection | None:
        """Register; returns the connection it replaces (same agent connected again)."""
        old = self._by_agent.get((conn.team_id, conn.agent_id))
        self._by_agent[(conn.team_id, conn.agent_id)] = conn
        return old

    def remove(self, conn: Connection) -> bool:
        """Unregister if still current; False when a newer connection replaced it."""
        if self._by_agent.get((conn.team_id, conn.agent_id)) is conn:
            del self._by_agent[(conn.team_id, conn.agent_id)]
            return True
        return False

    def ready_connections(self) -> list[Connection]:
        return [
            c
            for c in self._by_agent.values()
            if c.healthy and not c.draining and not c.tunnel_exclusive
        ]

    def all_connections(self) -> list[Connection]:
        return list(self._by_agent.values())

    def local_agent_keys(self) -> set[tuple[str, str]]:
        return set(self._by_agent)

    def get(self, team_id: str, agent_id: str) -> Connection | None:
        return self._by_agent.get((team_id, agent_id))

    def attach_mux(self, conn: Connection) -> Mux:
        """The connection's tunnel streams: control frames through ``send``, data messages
        behind them."""

        async def send_control(frame: BaseModel) -> None:
            if not await self.send(conn, frame):
                raise ConnectionError("the agent's connection is closed")

        async def send_data(message: bytes) -> None:
            async with conn.gate.data():
                await conn.websocket.send_bytes(message)

        conn.mux = Mux(send_control, send_data)
        return conn.mux

    async def send(self, conn: Connection, frame: BaseModel) -> bool:
        if conn.websocket.application_state != WebSocketState.CONNECTED:
            return False
        try:
            async with conn.gate.control():
                await conn.websocket.send_text(dump_frame(frame))
            return True
        except Exception:  # the socket died under us; the reaper requeues its work
            log.info("send failed agent=%s", conn.agent_id)
            return False

    async def send_cancel(
        self,
        team_id: str,
        agent_id: str,
        task_id: str,
        attempt: int,
        reason: str,
        *,
        once: bool = False,
    ) -> None:
        conn = self.get(team_id, agent_id)
        if conn is None:
            return
        if once and (task_id, attempt) in conn.cancels_sent:
            return
        conn.cancels_sent.add((task_id, attempt))
        frame = TaskCancel(task_id=task_id, attempt=attempt, reason=reason)
        log.info("cancel task=%s attempt=%d agent=%s reason=%s", task_id, attempt, agent_id, reason)
        await self.send(conn, frame)

    async def close(self, conn: Connection, reason: CloseReason) -> None:
        if conn.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await conn.websocket.close(code=reason.code, reason=reason.description[:120])

    def evict(self, team_id: str, agent_id: str) -> Connection | None:
        """Forget a connection at once so no new work goes to it; the caller closes it (a
        paused peer may never answer the close handshake, so eviction must not wait)."""
        return self._by_agent.pop((team_id, agent_id), None)

    async def disconnect_key(self, key_id: str) -> None:
        for conn in [c for c in self._by_agent.values() if c.key_id == key_id]:
            await self.close(conn, CloseReason.INVALID_KEY)

    async def close_all(self, reason: CloseReason) -> None:
        self.accepting = False
        await asyncio.gather(*(self.close(c, reason) for c in list(self._by_agent.values())))
