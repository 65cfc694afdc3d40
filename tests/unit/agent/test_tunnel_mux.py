"""The tunnel stream multiplexer, two ends wired back to back in memory (no sockets): bytes
arrive in order, credit bounds what a slow reader holds, a peer that ignores its window loses
the stream, control frames overtake waiting data, and a lost connection ends every stream with
its reason."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from runyard_protocol import (
    MAX_CHUNK,
    Mux,
    PriorityGate,
    StreamClosed,
    StreamRefused,
    TunnelClose,
    TunnelCredit,
    TunnelEof,
    TunnelOpen,
    TunnelOpened,
)
from runyard_protocol.tunnels import pack_data

WINDOW = 128 * 1024


class Wire:
    """Two muxes joined: what one sends, the other is fed (in order, as on one socket)."""

    def __init__(self, accept_ports: set[int]) -> None:
        self.server = Mux(self._to_agent_control, self._to_agent_data, window=WINDOW)
        self.agent = Mux(self._to_server_control, self._to_server_data, window=WINDOW)
        self.accept_ports = accept_ports
        self.accepted: asyncio.Queue[object] = asyncio.Queue()
        self.sent_to_server: list[BaseModel | bytes] = []

    async def _to_agent_control(self, frame: BaseModel) -> None:
        if isinstance(frame, TunnelOpen):
            if frame.port in self.accept_ports:
                await self.accepted.put(await self.agent.accept(frame))
            else:
                await self.agent.refuse(frame, "tunnel_port_not_allowed", "not this port")
            return
        assert isinstance(frame, TunnelCredit | TunnelClose | TunnelEof)
        self.agent.feed(frame)

    async def _to_agent_data(self, message: bytes) -> None:
        self.agent.feed_data(message)

    async def _to_server_control(self, frame: BaseModel) -> None:
        self.sent_to_server.append(frame)
        assert isinstance(frame, TunnelOpened | TunnelCredit | TunnelClose | TunnelEof)
        self.server.feed(frame)

    async def _to_server_data(self, message: bytes) -> None:
        self.sent_to_server.append(message)
        self.server.feed_data(message)


async def test_bytes_cross_both_ways_in_order() -> None:
    wire = Wire({8188})
    stream = await wire.server.open(8188, "t1")
    far = await wire.accepted.get()
    payload = bytes(range(256)) * 1000  # 256 kB: several chunks, more than one window
    writer = asyncio.create_task(stream.write(payload))
    got = b""
    while len(got) < len(payload):
        got += await far.read()  # type: ignore[attr-defined]
    await writer
    assert got == payload
    await far.write(b"pong")  # type: ignore[attr-defined]
    assert await stream.read() == b"pong"
    await stream.close()
    assert await far.read() == b""  # type: ignore[attr-defined]
    assert len(wire.server) == 0 and len(wire.agent) == 0


async def test_a_shut_write_side_is_an_eof_and_the_other_way_keeps_flowing() -> None:
    wire = Wire({8188})
    wire.server.half_close = wire.agent.half_close = True  # both announced tunnel_half_close
    stream = await wire.server.open(8188, "t1")
    far = await wire.accepted.get()
    await stream.write(b"request")
    assert await stream.write_eof() is True
    assert await far.read() == b"request"  # type: ignore[attr-defined]
    assert await far.read() == b""  # type: ignore[attr-defined]
    assert far.at_eof and not far.closed  # type: ignore[attr-defined]

    async def answer() -> bool:  # several windows: read while it is written
        await far.write(b"answer " * 100_000)  # type: ignore[attr-defined]
        return bool(await far.write_eof())  # type: ignore[attr-defined]

    answering = asyncio.create_task(answer())
    got = b""
    while chunk := await stream.read():
        got += chunk
    assert await answering is True
    assert got == b"answer " * 100_000 and stream.at_eof and not stream.closed
    await stream.close()
    with pytest.raises(StreamClosed):
        await stream.write(b"late")
    assert len(wire.server) == 0


async def test_without_half_close_a_shut_write_side_closes_the_stream() -> None:
    wire = Wire({8188})  # the peer predates tunnel.eof.v1 (no tunnel_half_close)
    stream = await wire.server.open(8188, "t1")
    far = await wire.accepted.get()
    assert await stream.write_eof() is False
    assert stream.closed and await far.read() == b""  # type: ignore[attr-defined]
    assert far.closed  # type: ignore[attr-defined]
    assert not any(isinstance(f, TunnelEof) for f in wire.sent_to_server)


async def test_a_port_the_agent_refuses_names_the_reason() -> None:
    wire = Wire(set())
    with pytest.raises(StreamRefused) as refused:
        await wire.server.open(22, "t1")
    assert refused.value.code == "tunnel_port_not_allowed"
    assert len(wire.server) == 0


async def test_a_slow_reader_holds_one_window_and_the_writer_waits() -> None:
    wire = Wire({8188})
    stream = await wire.server.open(8188, "t1")
    far = await wire.accepted.get()
    writer = asyncio.create_task(stream.write(b"x" * (4 * WINDOW)))
    await asyncio.sleep(0.05)
    assert not writer.done()  # no credit: the writer waits instead of buffering
    assert far.buffered == WINDOW  # type: ignore[attr-defined]
    total = 0
    while total < 4 * WINDOW:
        total += len(await far.read())  # type: ignore[attr-defined]
        assert far.buffered <= WINDOW  # type: ignore[attr-defined]
    await writer


async def test_a_peer_that_ignores_its_window_loses_the_stream() -> None:
    wire = Wire({8188})
    stream = await wire.server.open(8188, "t1")
    await wire.accepted.get()
    for _ in range(WINDOW // MAX_CHUNK + 1):  # past the window, no credit asked
        wire.server.feed_data(pack_data(stream.id, b"y" * MAX_CHUNK))
    await asyncio.sleep(0.01)
    assert stream.closed and "window" in stream.reason
    with pytest.raises(StreamClosed):
        await stream.write(b"z")


async def test_a_lost_connection_ends_every_stream_with_its_reason() -> None:
    wire = Wire({8188})
    stream = await wire.server.open(8188, "t1")
    wire.server.close_all("The agent disconnected.")
    assert await stream.read() == b""
    assert stream.reason == "The agent disconnected."
    with pytest.raises(StreamRefused) as refused:
        await wire.server.open(8188, "t1")
    assert refused.value.code == "agent_not_connected"


async def test_control_frames_go_before_waiting_data() -> None:
    gate = PriorityGate()
    order: list[str] = []
    release = asyncio.Event()

    async def data(name: str, hold: bool = False) -> None:
        async with gate.data():
            order.append(name)
            if hold:
                await release.wait()

    async def control(name: str) -> None:
        async with gate.control():
            order.append(name)

    first = asyncio.create_task(data("data-1", hold=True))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(data(f"data-{i}")) for i in (2, 3)]
    await asyncio.sleep(0)
    heartbeat = asyncio.create_task(control("heartbeat"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting, heartbeat)
    assert order == ["data-1", "heartbeat", "data-2", "data-3"]
