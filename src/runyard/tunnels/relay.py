"""Where a tunnel's bytes go: a stream on the agent's connection when this process holds it,
else a hop to the process that does (its ``agents.gateway_url``); the sessions each process
relays; and the loop that ends sessions of closed tunnels, closes idle ones and keeps each
local connection's ``tunnel`` status (exclusive tunnels) in step with the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from runyard.agents.repository import AgentRepository
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.errors import Conflict, Forbidden, RunyardError
from runyard.gateway.registry import Gateway
from runyard.settings import Settings
from runyard.tunnels.credentials import HOP_HEADER, sign
from runyard.tunnels.repository import TunnelRepository
from runyard.tunnels.service import TunnelService, TunnelTarget
from runyard_protocol import MAX_CHUNK, StreamClosed, StreamRefused, both_ways

log = logging.getLogger("runyard.tunnels")
HOP_TTL = 60


#: Header of a tunnel WebSocket (``/connect``, ``/hop``) whose client understands half-close:
#: the text message ``EOF_MESSAGE`` means "the sender shut its write side", both ways.
HALF_CLOSE_HEADER = "X-Runyard-Half-Close"
EOF_MESSAGE = '{"eof": true}'


def is_eof(message: str) -> bool:
    with contextlib.suppress(ValueError, AttributeError):
        return bool(json.loads(message).get("eof"))
    return False


class ByteStream(Protocol):
    """One relayed connection to the agent's port: ``read`` gives ``b""`` at the end of what
    the app sends (``closed``: the whole stream ended, ``reason`` says why when abnormal);
    ``write`` raises ``StreamClosed``; ``write_eof`` shuts this side (False: the peer does
    not understand half-close, the whole stream was closed instead)."""

    reason: str

    @property
    def closed(self) -> bool: ...

    @property
    def at_eof(self) -> bool: ...

    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def write_eof(self) -> bool: ...

    async def close(self, reason: str = "") -> None: ...


class HopStream:
    """A stream relayed by the server process that holds the agent's connection."""

    def __init__(self, ws: ClientConnection, half_close: bool) -> None:
        self._ws = ws
        self._half_close = half_close
        self.reason = ""
        self.closed = False
        self.eof_received = False

    @property
    def at_eof(self) -> bool:
        return self.closed or self.eof_received

    def _ended(self, exc: ConnectionClosed) -> str:
        self.closed = True
        if exc.rcvd is not None and exc.rcvd.code != 1000:
            self.reason = exc.rcvd.reason or "the tunnel's relay ended"
        return self.reason

    async def read(self) -> bytes:
        if self.at_eof:
            return b""
        try:
            message = await self._ws.recv()
        except ConnectionClosed as exc:
            self._ended(exc)
            return b""
        if isinstance(message, str):
            self.eof_received = True  # the only text message after the answer
            return b""
        return message

    async def write_eof(self) -> bool:
        if not self._half_close:
            await self.close()
            return False
        try:
            await self._ws.send(EOF_MESSAGE)
        except ConnectionClosed as exc:
            self._ended(exc)
            return False
        return True

    async def write(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), MAX_CHUNK):
                await self._ws.send(data[start : start + MAX_CHUNK])
        except ConnectionClosed as exc:
            raise StreamClosed(self._ended(exc) or "the tunnel stream is closed") from None

    async def close(self, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self._ws.close(4000 if reason else 1000, reason[:120])


def refused(exc: StreamRefused) -> RunyardError:
    if exc.code == "tunnel_port_not_allowed":
        return Forbidden(exc.message, code="tunnel_port_not_allowed")
    if exc.code == "tunnel_limit_reached":
        return Conflict(exc.message, code="tunnel_limit_reached")
    if exc.code == "agent_not_connected":
        return Conflict(exc.message, code="agent_not_connected")
    return Conflict(exc.message, code="tunnel_open_failed", status=502)


class TunnelRelays(BackgroundLoop):
    name = "tunnels"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        gateway: Gateway,
        on_freed: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(settings.tunnel.sweep_interval)
        self.on_freed = on_freed  # an agent left ``tunnel`` status: wake the dispatcher
        self.db = db
        self.settings = settings
        self.clock = clock
        self.gateway = gateway
        self._sessions: dict[str, set[asyncio.Task[object]]] = {}
        #: Bytes relayed by this process (for /metrics), towards and from agents.
        self.bytes_to_agents = 0
        self.bytes_from_agents = 0
        self.sessions_started = 0
        # Per tunnel, since the last pass: [to_agent, from_agent] (written by ``run_once``).
        self._traffic: dict[str, list[int]] = {}

    def count(self, tunnel_id: str | None, to_agent: int = 0, from_agent: int = 0) -> None:
        """Bytes relayed by this process; ``tunnel_id``: also to that tunnel's totals (where
        the user arrived, not again at the hop)."""
        self.bytes_to_agents += to_agent
        self.bytes_from_agents += from_agent
        if tunnel_id is not None:
            totals = self._traffic.setdefault(tunnel_id, [0, 0])
            totals[0] += to_agent
            totals[1] += from_agent

    def active(self, tunnel_id: str | None = None) -> int:
        if tunnel_id is not None:
            return len(self._sessions.get(tunnel_id, ()))
        return sum(len(tasks) for tasks in self._sessions.values())

    # ------------------------------------------------------------ streams

    async def connect(self, target: TunnelTarget, *, local_only: bool = False) -> ByteStream:
        """A new stream to the tunnel's port; ``RunyardError`` says why not."""
        conn = self.gateway.get(target.team_id, target.agent_id)
        if conn is not None and conn.mux is not None:
            try:
                return await conn.mux.open(
                    target.port, target.id, self.settings.tunnel.open_timeout
                )
            except StreamRefused as exc:
                raise refused(exc) from None
        not_connected = Conflict(
            f"The agent {target.agent_id!r} is not connected.", code="agent_not_connected"
        )
        if local_only:
            raise not_connected
        async with self.db.unit() as uow:
            agent = await AgentRepository(uow.session).by_agent_id(target.team_id, target.agent_id)
            hop_url = agent.gateway_url if agent is not None and agent.connected else None
        if not hop_url or hop_url == self.settings.tunnel.internal_url:
            raise not_connected
        return await self._hop(hop_url, target)

    async def _hop(self, base: str, target: TunnelTarget) -> HopStream:
        url = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        credential = sign(self.settings.secret_key, "hop", target.id, int(time.time()) + HOP_TTL)
        try:
            ws = await connect(
                f"{url}/api/v1/internal/tunnels/{target.id}/hop",
                additional_headers={HOP_HEADER: credential, HALF_CLOSE_HEADER: "1"},
                max_size=MAX_CHUNK + 1024,
                open_timeout=self.settings.tunnel.open_timeout,
                compression=None,
            )
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise Conflict(
                f"The server process holding the agent's connection ({base}) cannot be reached: "
                f"{exc}",
                code="agent_not_connected",
            ) from None
        try:
            answer = json.loads(await ws.recv())
        except (ConnectionClosed, ValueError):
            await ws.close()
            raise Conflict("The tunnel's relay closed.", code="agent_not_connected") from None
        if not answer.get("ok"):
            await ws.close()
            raise refused(
                StreamRefused(answer.get("error_code", ""), answer.get("error_message", ""))
            )
        return HopStream(ws, bool(answer.get("half_close")))

    # ------------------------------------------------------------ sessions

    @contextlib.asynccontextmanager
    async def session(self, tunnel_id: str) -> AsyncIterator[None]:
        """Count the current task as a session of the tunnel: it is cancelled when the tunnel
        closes (``end``), and keeps the tunnel from closing as idle while it runs."""
        task: asyncio.Task[object] | None = asyncio.current_task()
        assert task is not None
        tasks = self._sessions.setdefault(tunnel_id, set())
        tasks.add(task)
        self.sessions_started += 1
        try:
            yield
        finally:
            tasks.discard(task)
            if not tasks:
                self._sessions.pop(tunnel_id, None)

    def end(self, tunnel_id: str) -> None:
        for task in list(self._sessions.get(tunnel_id, ())):
            task.cancel()

    async def pump(
        self, websocket: WebSocket, stream: ByteStream, half_close: bool, tunnel_id: str | None
    ) -> None:
        """Relay binary messages of ``websocket`` and the stream's bytes until both directions
        ended (``half_close``: the client passes EOF as ``EOF_MESSAGE``, and receives it), or
        either ended abnormally: then the socket closes with 4000 and the reason. The bytes
        count towards ``tunnel_id``'s totals (None: at a hop, counted where the user is)."""

        async def up() -> bool:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return False
                text = message.get("text")
                if half_close and text is not None and is_eof(text):
                    return await stream.write_eof()
                data = message.get("bytes") or (text or "").encode()
                if data:
                    await stream.write(data)
                    self.count(tunnel_id, to_agent=len(data))

        async def down() -> bool:
            while chunk := await stream.read():
                self.count(tunnel_id, from_agent=len(chunk))
                await websocket.send_bytes(chunk)
            if stream.closed or not half_close:
                return False
            await websocket.send_text(EOF_MESSAGE)
            return True

        reason = ""
        try:
            await both_ways(up(), down())
        except asyncio.CancelledError:  # the tunnel was closed (``end``)
            reason = "The tunnel was closed."
            raise
        finally:
            reason = reason or stream.reason
            await stream.close()
            if websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(4000 if reason else 1000, reason[:120])

    # ------------------------------------------------------------ the loop

    async def run_once(self) -> None:
        now = self.clock.now()
        ended: list[str] = []
        async with self.db.unit() as uow:
            repo = TunnelRepository(uow.session)
            statuses = await repo.statuses(self._sessions)
            # Closed, or gone with its team: their sessions end.
            ended = [tid for tid in self._sessions if statuses.get(tid) != "open"]
            live = [tid for tid, status in statuses.items() if status == "open"]
            until = now + timedelta(seconds=self.settings.tunnel.idle_timeout)
            await repo.keep_alive(live, until, now)
            traffic, self._traffic = self._traffic, {}
            await repo.add_traffic({tid: (to, back) for tid, (to, back) in traffic.items()})
            service = TunnelService(uow, self.settings)
            for tunnel in await repo.expired(now):
                minutes = self.settings.tunnel.idle_timeout / 60
                if await service.close(tunnel, f"closed after {minutes:g} min without use", now):
                    log.info("tunnel %s closed (idle)", tunnel.id)
                ended.append(tunnel.id)
            exclusive = await repo.exclusive_agents(self.gateway.local_agent_keys())
        for tunnel_id in ended:
            self.end(tunnel_id)
        if self.sync_exclusive(exclusive):
            self.on_freed()

    def sync_exclusive(self, exclusive: set[tuple[str, str]]) -> bool:
        """Set each local connection's ``tunnel`` status; True when one became available."""
        freed = False
        for conn in self.gateway.all_connections():
            now_exclusive = (conn.team_id, conn.agent_id) in exclusive
            freed = freed or (conn.tunnel_exclusive and not now_exclusive)
            conn.tunnel_exclusive = now_exclusive
        return freed
