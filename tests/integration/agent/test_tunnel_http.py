"""The server's HTTP client into tunnels (``runyard.tunnels.http_proxy``) over the real mux and
the agent's real relay, to a real HTTP/1.1 app on a local port: requests reuse one kept-alive
stream, bodies stream both ways (sized and chunked), and an idle connection the app closes is
dropped at once (its stream closed, the next request opens another)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import h11
import pytest

from runyard.tunnels.http_proxy import TunnelHttp
from runyard.tunnels.service import TunnelTarget
from runyard_protocol import Mux
from tests.integration.agent.test_agent_tunnels import _wire


@dataclass
class App:
    """Answers each request with its method, path and body; ``idle_close``: closes a
    connection that stays idle that long after an answer (like uvicorn's keep-alive)."""

    port: int = 0
    idle_close: float | None = None
    connections: int = 0
    closed: list[str] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        body = b""
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    wait = self.idle_close if conn.their_state is h11.IDLE else None
                    try:
                        data = await asyncio.wait_for(reader.read(65536), wait)
                    except TimeoutError:
                        self.closed.append("idle")
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    request, body = event, b""
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    answer = request.method + b" " + request.target + b" " + body
                    headers = [("content-length", str(len(answer)))]
                    writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
                    writer.write(conn.send(h11.Data(data=answer)))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    conn.start_next_cycle()
                else:  # the peer closed
                    return
        finally:
            writer.close()


@dataclass
class Relays:
    """What ``TunnelHttp`` needs of ``TunnelRelays``: streams to the tunnel's port."""

    server: Mux
    opened: int = 0

    async def connect(self, target: TunnelTarget) -> object:
        self.opened += 1
        return await self.server.open(target.port, target.id)

    def count(self, tunnel_id: str | None, to_agent: int = 0, from_agent: int = 0) -> None: ...


@pytest.fixture
async def app(request: pytest.FixtureRequest) -> AsyncIterator[App]:
    app = App(idle_close=getattr(request, "param", None))
    server = await asyncio.start_server(app.serve, "127.0.0.1", 0)
    app.port = server.sockets[0].getsockname()[1]
    async with server:
        yield app


async def _get(
    http: TunnelHttp,
    target: TunnelTarget,
    method: str,
    path: bytes,
    body: list[bytes],
    headers: list[tuple[bytes, bytes]],
) -> tuple[int, bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in body:
            yield chunk

    host = [(b"host", f"127.0.0.1:{target.port}".encode())]
    response = await http.request(target, method, path, host + headers, chunks())
    try:
        return response.status, b"".join([chunk async for chunk in response.stream])
    finally:
        await response.aclose()


async def test_requests_reuse_one_stream_and_bodies_stream_both_ways(app: App) -> None:
    server, relay = _wire([app.port], half_close=True)
    relays = Relays(server)
    http = TunnelHttp(relays)  # type: ignore[arg-type]
    target = TunnelTarget("t1", "team", "agent", app.port, "http")
    for i in range(20):
        assert await _get(http, target, "GET", f"/api/queue?i={i}".encode(), [], []) == (
            200,
            f"GET /api/queue?i={i} ".encode(),
        )
    big = bytes(range(256)) * 4096  # 1 MiB: two windows each way
    sized = [(b"content-length", str(len(big)).encode())]
    assert await _get(http, target, "POST", b"/api/prompt", [big[:1000], big[1000:]], sized) == (
        200,
        b"POST /api/prompt " + big,
    )
    # No length: sent chunked.
    assert await _get(http, target, "POST", b"/upload", [b"a" * 70_000, b"b"], []) == (
        200,
        b"POST /upload " + b"a" * 70_000 + b"b",
    )
    assert (relays.opened, app.connections, len(server)) == (1, 1, 1)
    await http.aclose()
    relay.detach("done")


@pytest.mark.parametrize("app", [0.2], indirect=True)
async def test_an_idle_connection_the_app_closes_is_dropped_at_once(app: App) -> None:
    server, relay = _wire([app.port], half_close=True)
    relays = Relays(server)
    http = TunnelHttp(relays)  # type: ignore[arg-type]
    target = TunnelTarget("t1", "team", "agent", app.port, "http")
    assert (await _get(http, target, "GET", b"/a", [], []))[0] == 200
    async with asyncio.timeout(10):
        while len(server) or app.closed != ["idle"]:  # the app closed it: so did the server
            await asyncio.sleep(0.02)
    assert await _get(http, target, "GET", b"/b", [], []) == (200, b"GET /b ")
    assert (relays.opened, app.connections) == (2, 2)
    await http.aclose()
    relay.detach("done")
