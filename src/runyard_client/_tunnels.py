"""``client.tunnels``: open, list, read and close tunnels to a port on an agent, and
``forward_tcp``: listen on this machine's 127.0.0.1 and forward each connection through a
``tcp`` tunnel (like ``kubectl port-forward``; what ``runyard tunnel open`` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from runyard_client._base import Call, api
from runyard_client._errors import TunnelRefused
from runyard_client._models import Model
from runyard_client._resources import Resource, endpoint, model, seg

X = TypeVar("X")
CHUNK = 64 * 1024
# Half-close on a tunnel's WebSocket (the server's runyard/tunnels/relay.py): asked for with
# the header; then this text message means "the sender shut its write side", both ways.
HALF_CLOSE_HEADER = "X-Runyard-Half-Close"
EOF_MESSAGE = '{"eof": true}'


class Tunnel(Model):
    id: str
    agent_id: str
    port: int
    protocol: str
    exclusive: bool = False
    tunnel_status: str = "open"
    url: str | None = None
    connect_url: str | None = None
    opened_by: str | None = None
    opened_by_email: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    sessions_total: int = 0
    last_used_at: datetime | None = None
    bytes_to_agent: int = 0
    bytes_from_agent: int = 0
    closed_at: datetime | None = None
    close_reason: str | None = None
    closed_by: str | None = None
    closed_by_email: str | None = None


def _tunnel_list(response: Any) -> list[Tunnel]:
    return [Tunnel.model_validate(t) for t in response.json()["tunnel_list"]]


class Tunnels(Resource[X]):
    @endpoint
    def open(
        self,
        agent_id: str,
        port: int | None = None,
        protocol: str = "http",
        exclusive: bool = False,
    ) -> Call[Tunnel]:
        """Open a tunnel; for ``http`` the answer's ``url`` is a one-time browser link."""
        body: dict[str, Any] = {"protocol": protocol, "exclusive": exclusive}
        if port is not None:
            body["port"] = port
        return Call("POST", api(f"/agents/{seg(agent_id)}/tunnels"), model(Tunnel), json=body)

    @endpoint
    def list(self, agent_id: str) -> Call[list[Tunnel]]:
        return Call("GET", api(f"/agents/{seg(agent_id)}/tunnels"), _tunnel_list)

    @endpoint
    def get(self, tunnel_id: str) -> Call[Tunnel]:
        return Call("GET", api(f"/tunnels/{seg(tunnel_id)}"), model(Tunnel))

    @endpoint
    def close(self, tunnel_id: str) -> Call[Tunnel]:
        """Close it and end every session through it."""
        return Call("DELETE", api(f"/tunnels/{seg(tunnel_id)}"), model(Tunnel))


async def forward_tcp(
    server_url: str,
    headers: dict[str, str],
    tunnel_id: str,
    local_port: int,
    *,
    on_listening: Callable[[int], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> None:
    """Listen on 127.0.0.1:``local_port`` (0: any free port, given to ``on_listening``) and
    relay each connection over its own WebSocket to the tunnel, until cancelled."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    base = server_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    url = f"{base}/api/v1/tunnels/{tunnel_id}/connect"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with connect(
                url, additional_headers={**headers, HALF_CLOSE_HEADER: "1"}, max_size=None
            ) as ws:
                answer = json.loads(await ws.recv())
                if not answer.get("ok"):
                    raise TunnelRefused(answer.get("error_message", "refused"))
                half_close = bool(answer.get("half_close"))

                async def up() -> bool:  # a shut write side is passed on (half-close)
                    while data := await reader.read(CHUNK):
                        await ws.send(data)
                    if not half_close:
                        return False
                    await ws.send(EOF_MESSAGE)
                    return True

                async def down() -> bool:
                    async for message in ws:
                        if isinstance(message, str):  # the app shut its write side
                            if not writer.can_write_eof():
                                return False
                            writer.write_eof()
                            return True
                        writer.write(message)
                        await writer.drain()
                    return False

                await _both_ways(up(), down())
                close = ws.protocol.close_rcvd
                if close is not None and close.code != 1000 and on_error is not None:
                    on_error(close.reason or f"closed with code {close.code}")
        except (OSError, TunnelRefused, ConnectionClosed, ValueError) as exc:
            if on_error is not None:
                on_error(str(exc) or type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", local_port)
    async with server:
        if on_listening is not None:
            on_listening(server.sockets[0].getsockname()[1])
        await server.serve_forever()


async def _both_ways(up: Awaitable[bool], down: Awaitable[bool]) -> None:
    """Until both directions ended cleanly (True: EOF passed on), or one ended otherwise."""
    tasks = [asyncio.ensure_future(up), asyncio.ensure_future(down)]
    try:
        pending: set[asyncio.Future[bool]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.cancelled() or t.exception() is not None or not t.result() for t in done):
                return
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
