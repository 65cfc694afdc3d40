"""``client.tunnels``: open, list, read and close tunnels to a port on an agent, and
``forward_tcp``: listen on this machine's 127.0.0.1 and forward each connection through a
``tcp`` tunnel (like ``kubectl port-forward``; what ``runyard tunnel open`` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from runyard_client._base import Call, api
from runyard_client._errors import TunnelRefused
from runyard_client._models import Model
from runyard_client._resources import Resource, endpoint, model, seg

X = TypeVar("X")
CHUNK = 64 * 1024


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
    created_at: datetime | None = None
    expires_at: datetime | None = None
    sessions_total: int = 0
    closed_at: datetime | None = None
    close_reason: str | None = None


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
            async with connect(url, additional_headers=headers, max_size=None) as ws:
                answer = json.loads(await ws.recv())
                if not answer.get("ok"):
                    raise TunnelRefused(answer.get("error_message", "refused"))

                async def up() -> None:
                    while data := await reader.read(CHUNK):
                        await ws.send(data)

                async def down() -> None:
                    async for message in ws:
                        writer.write(message if isinstance(message, bytes) else message.encode())
                        await writer.drain()

                tasks = {asyncio.create_task(up()), asyncio.create_task(down())}
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
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
