"""The agent's end of tunnels: ``tunnel.open.v1`` connects a port on 127.0.0.1 that this agent
allows (``--tunnel-port``; by default its ComfyUI's) and relays it as a stream of the ``Mux``.

Nothing listens on the agent: every byte travels over the WebSocket the agent dialled. Data
messages go through the link's ``PriorityGate`` behind heartbeats and task frames; each
stream holds at most one window of the server's bytes, and reads from the local socket only as
fast as the server credits them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from pydantic import BaseModel

from runyard_protocol import (
    MAX_CHUNK,
    Mux,
    Stream,
    StreamClosed,
    TunnelFrame,
    TunnelOpen,
    both_ways,
    dump_frame,
)

__all__ = ["TunnelRelay"]

SendText = Callable[[str], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]
CONNECT_TIMEOUT = 5.0


class TunnelRelay:
    def __init__(self, log: logging.LoggerAdapter[logging.Logger], ports: list[int]) -> None:
        self._log = log
        self.ports = frozenset(ports)
        self._mux: Mux | None = None
        #: The current server understands ``tunnel.eof.v1`` (its welcome said so).
        self.half_close = False
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, send_control: SendText, send_data: SendBytes) -> None:
        async def control(frame: BaseModel) -> None:
            await send_control(dump_frame(frame))

        self._mux = Mux(control, send_data)
        self._mux.half_close = self.half_close

    def detach(self, reason: str) -> None:
        """The socket is gone: every stream ends, every local connection is closed."""
        if self._mux is not None:
            self._mux.close_all(reason)
            self._mux = None
        for task in list(self._tasks):
            task.cancel()

    def feed_data(self, message: bytes) -> None:
        if self._mux is not None:
            self._mux.feed_data(message)

    def handle(self, frame: TunnelFrame) -> None:
        mux = self._mux
        if mux is None:
            return
        if isinstance(frame, TunnelOpen):
            self._spawn(self._open(mux, frame))
        else:
            mux.feed(frame)

    async def _open(self, mux: Mux, frame: TunnelOpen) -> None:
        if frame.port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports)) or "none"
            self._log.warning("refused a tunnel to port %d (allowed: %s)", frame.port, allowed)
            await mux.refuse(
                frame,
                "tunnel_port_not_allowed",
                f"The agent does not allow tunnels to port {frame.port} (allowed: {allowed}; "
                "start it with --tunnel-port).",
            )
            return
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection("127.0.0.1", frame.port)
        except (OSError, TimeoutError) as exc:
            await mux.refuse(
                frame,
                "tunnel_open_failed",
                f"Nothing answers on 127.0.0.1:{frame.port} on the agent ({exc or 'timed out'}).",
            )
            return
        stream = await mux.accept(frame)
        self._log.info("tunnel %s: stream %d to port %d", frame.tunnel_id, stream.id, frame.port)
        await _relay(stream, reader, writer)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _relay(
    stream: Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Relay until both directions ended; a side that shuts its write side (EOF) is passed on
    as such, and the other direction keeps flowing (half-close, like TCP)."""

    async def up() -> bool:  # local app -> server
        while data := await reader.read(MAX_CHUNK):
            await stream.write(data)
        return await stream.write_eof()

    async def down() -> bool:  # server -> local app
        while chunk := await stream.read():
            writer.write(chunk)
            await writer.drain()
        if stream.closed or not writer.can_write_eof():
            return False
        writer.write_eof()
        return True

    reason = ""
    try:
        error = await both_ways(up(), down())
        if error is not None and not isinstance(error, StreamClosed):
            reason = f"the local connection failed: {error}"
    finally:
        await stream.close(reason)
        writer.close()
        with suppress(Exception):
            await writer.wait_closed()
