"""The agent's end of tunnels with a real local TCP server and the server's end in memory: only
allowed ports are connected, a port with nothing behind it is refused with the reason, bytes
round-trip, and losing the connection closes the local socket. Also which ports an agent
allows by default, and the credentials the server signs for tunnels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from runyard.tunnels.credentials import sign, verify
from runyard_agent.options import AgentOptions
from runyard_agent.tunnels import TunnelRelay
from runyard_protocol import Mux, StreamRefused, TunnelCredit, TunnelOpen, parse_server_frame
from tests.support.s3 import free_port


class _Log:
    def info(self, *args: object) -> None: ...

    def warning(self, *args: object) -> None: ...


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _wire(ports: list[int], half_close: bool = False) -> tuple[Mux, TunnelRelay]:
    """The server's mux and the agent's relay back to back (``half_close``: both announced
    ``tunnel_half_close``)."""
    relay = TunnelRelay(_Log(), ports)  # type: ignore[arg-type]
    relay.half_close = half_close
    server: Mux

    async def to_agent(frame: BaseModel) -> None:
        parsed = parse_server_frame(frame.model_dump_json())
        assert isinstance(parsed, TunnelOpen | TunnelCredit) or parsed.type in (
            "tunnel.close.v1",
            "tunnel.eof.v1",
        )
        relay.handle(parsed)  # type: ignore[arg-type]

    async def to_agent_data(message: bytes) -> None:
        relay.feed_data(message)

    server = Mux(to_agent, to_agent_data)
    server.half_close = half_close

    async def to_server_text(text: str) -> None:
        from runyard_protocol import parse_agent_frame

        server.feed(parse_agent_frame(text))  # type: ignore[arg-type]

    async def to_server_data(message: bytes) -> None:
        server.feed_data(message)

    relay.attach(to_server_text, to_server_data)
    return server, relay


async def test_an_allowed_port_round_trips_and_a_lost_connection_closes_it(echo_port: int) -> None:
    server, relay = _wire([echo_port])
    stream = await server.open(echo_port, "t1")
    await stream.write(b"hello agent")
    assert await stream.read() == b"hello agent"
    relay.detach("The agent's connection to the server was lost.")
    server.close_all("The agent disconnected.")
    assert await stream.read() == b""


async def test_a_port_the_agent_does_not_allow_is_refused_naming_those_it_does(
    echo_port: int,
) -> None:
    server, _ = _wire([echo_port, free_port()])
    with pytest.raises(StreamRefused) as refused:
        await server.open(22, "t1")
    assert refused.value.code == "tunnel_port_not_allowed"
    assert str(echo_port) in refused.value.message and "--tunnel-port" in refused.value.message


async def test_a_port_with_nothing_listening_is_refused_with_the_reason() -> None:
    nobody = free_port()
    server, _ = _wire([nobody])
    with pytest.raises(StreamRefused) as refused:
        await server.open(nobody, "t1")
    assert refused.value.code == "tunnel_open_failed"
    assert f"127.0.0.1:{nobody}" in refused.value.message


def test_the_default_tunnel_port_is_the_local_comfyuis() -> None:
    base = {"agent_key": "ak-x", "agent_id": "a"}
    assert AgentOptions(**base).allowed_tunnel_ports() == [8188]  # type: ignore[arg-type]
    remote = AgentOptions(**base, comfyui_url="http://gpu-host:8188")  # type: ignore[arg-type]
    assert remote.allowed_tunnel_ports() == []
    assert AgentOptions(**base, comfyui_url=None).allowed_tunnel_ports() == []  # type: ignore[arg-type]
    chosen = AgentOptions(**base, tunnel_ports=[8888, 7860, 8888])  # type: ignore[arg-type]
    assert chosen.allowed_tunnel_ports() == [7860, 8888]
    assert AgentOptions(**base, tunnel_ports=[]).allowed_tunnel_ports() == []  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--tunnel-port"):
        AgentOptions(**base, tunnel_ports=[70000])  # type: ignore[arg-type]


def test_tunnel_credentials_name_their_purpose_tunnel_and_expiry() -> None:
    value = sign("secret-1", "cookie", "tunnel-a", 2_000)
    assert verify(("secret-1",), "cookie", value, 1_000) == "tunnel-a"
    assert verify(("secret-2", "secret-1"), "cookie", value, 1_000) == "tunnel-a"  # rotation
    assert verify(("secret-1",), "hop", value, 1_000) is None  # another purpose
    assert verify(("secret-1",), "cookie", value, 3_000) is None  # expired
    assert verify(("other",), "cookie", value, 1_000) is None
    forged = value.replace("tunnel-a", "tunnel-b")
    assert verify(("secret-1",), "cookie", forged, 1_000) is None
    assert verify(("secret-1",), "cookie", "garbage", 1_000) is None
