"""HTTP over tunnel streams: HTTP/1.1 spoken with ``h11`` over tunnel streams, kept-alive
connections reused per tunnel like any HTTP client's. Request and response bodies are
streamed, never held whole.

Why not an HTTP client's connection pool: each request relayed crosses it twice, and
``httpcore``'s pool (its locks, cancel-shields and async-library detection per call) cost
about half of the server's time per small request relayed (a py-spy profile of T2: see
docs/performance.md, "Session 8"); this does the one thing the relay needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import h11

from runyard.tunnels.relay import ByteStream, TunnelRelays
from runyard.tunnels.service import TunnelTarget

# Headers of one hop only (RFC 9110 7.6.1), never forwarded either way.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection is kept for the next request
MAX_IDLE = 16  # idle connections kept per tunnel
_NO_BODY = {b"GET", b"HEAD", b"DELETE", b"OPTIONS", b"TRACE"}


class TunnelBroken(Exception):
    """The stream ended before a whole answer (the message says why)."""


class _Connection:
    def __init__(self, stream: ByteStream, relays: TunnelRelays, tunnel_id: str) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        self._relays = relays
        self.tunnel_id = tunnel_id

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            await self.stream.write(data)
            self._relays.count(self.tunnel_id, to_agent=len(data))

    async def next_event(self, timeout: float) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                async with asyncio.timeout(timeout):
                    data = await self.stream.read()
            except TimeoutError:
                raise TunnelBroken("the tunnelled app did not answer in time") from None
            if data:
                self._relays.count(self.tunnel_id, from_agent=len(data))
            elif self.stream.reason:
                raise TunnelBroken(self.stream.reason)
            self.h11.receive_data(data)  # b"": the app closed its side

    @property
    def reusable(self) -> bool:
        return (
            self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
            and not self.stream.at_eof
        )


class TunnelResponse:
    """The app's answer: iterate ``stream`` for the body, then ``aclose`` (always)."""

    def __init__(
        self, http: TunnelHttp, conn: _Connection, response: h11.Response, timeout: float
    ) -> None:
        self._http = http
        self._conn = conn
        self._tunnel_id = conn.tunnel_id
        self._timeout = timeout
        self._done = False
        self.status = response.status_code
        self.headers: list[tuple[bytes, bytes]] = list(response.headers.raw_items())
        self.stream = self._body()

    async def _body(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._conn.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise TunnelBroken("the tunnelled app closed the connection mid-answer")

    async def aclose(self) -> None:
        conn = self._conn
        if self._done and conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._http.release(conn, self._tunnel_id)
        else:
            await conn.stream.close()


class TunnelHttp:
    """The process's HTTP client into tunnels."""

    def __init__(self, relays: TunnelRelays, read_timeout: float = 300.0) -> None:
        self._relays = relays
        self._read_timeout = read_timeout
        # Per tunnel, its idle kept-alive connections, each with the task that watches it.
        self._idle: dict[str, dict[_Connection, asyncio.Task[None]]] = {}

    async def _connection(self, target: TunnelTarget) -> _Connection:
        idle = self._idle.get(target.id)
        while idle:
            conn, watcher = idle.popitem()
            watcher.cancel()
            if conn.reusable:
                return conn
            await conn.stream.close()
        stream = await self._relays.connect(target)
        return _Connection(stream, self._relays, target.id)

    def release(self, conn: _Connection, tunnel_id: str) -> None:
        """Keep ``conn`` for the tunnel's next request, until the app closes it (or sends
        anything unasked), or ``KEEPALIVE_EXPIRY``: then its stream is closed at once, so
        no half-closed stream lingers on the agent's connection."""
        idle = self._idle.setdefault(tunnel_id, {})
        if len(idle) >= MAX_IDLE:
            asyncio.get_running_loop().create_task(conn.stream.close())
            return

        async def watch() -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KEEPALIVE_EXPIRY):
                    await conn.stream.read()
            if idle.pop(conn, None) is not None:
                await conn.stream.close()

        idle[conn] = asyncio.get_running_loop().create_task(watch())

    async def request(
        self,
        target: TunnelTarget,
        method: str,
        target_path: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes],
    ) -> TunnelResponse:
        """Send; the caller iterates the response's ``stream`` and closes it (``aclose``)."""
        verb = method.encode()
        if verb not in _NO_BODY and not any(k.lower() == b"content-length" for k, _ in headers):
            headers = [*headers, (b"transfer-encoding", b"chunked")]
        conn = await self._connection(target)
        try:
            await conn.send(h11.Request(method=verb, target=target_path, headers=headers))
            async for chunk in body:
                await conn.send(h11.Data(data=chunk))
            await conn.send(h11.EndOfMessage())
            while True:
                event = await conn.next_event(self._read_timeout)
                if isinstance(event, h11.Response):
                    return TunnelResponse(self, conn, event, self._read_timeout)
                if isinstance(event, h11.ConnectionClosed):
                    raise TunnelBroken("the tunnelled app closed the connection")
                # InformationalResponse (100 Continue…): wait for the answer
        except BaseException:
            await conn.stream.close()
            raise

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn, watcher in idle.items():
                watcher.cancel()
                await conn.stream.close()
        self._idle.clear()
