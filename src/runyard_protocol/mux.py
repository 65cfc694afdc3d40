"""Tunnel streams over one WebSocket, shared by both ends (the gateway opens, the agent accepts).

A ``Mux`` owns the streams of one connection. The connection's reader hands it every binary
message (``feed_data``, never waiting) and every tunnel control frame (``feed``). A ``Stream``
is read and written by one task each: ``write`` waits for credit (the peer's window), ``read``
hands back credit as it consumes. Bytes beyond the window are a protocol violation: that
stream is closed, nothing is buffered past it. So a stream holds at most one window (512 KiB)
of the peer's bytes in memory, however slow its reader.

``PriorityGate`` orders the sends of one socket: control frames (heartbeats, task frames,
credits) go before any data message that waits, so tunnel traffic never delays them by more
than the one data message (at most 64 KiB) already being written.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from pydantic import BaseModel

from runyard_protocol.tunnels import (
    DEFAULT_WINDOW,
    MAX_CHUNK,
    MAX_STREAMS,
    TunnelClose,
    TunnelCredit,
    TunnelEof,
    TunnelFrame,
    TunnelOpen,
    TunnelOpened,
    pack_data,
    unpack_data,
)

__all__ = ["Mux", "PriorityGate", "Stream", "StreamClosed", "StreamRefused", "both_ways"]

SendControl = Callable[[BaseModel], Awaitable[None]]
SendData = Callable[[bytes], Awaitable[None]]


class StreamClosed(Exception):
    """Writing to a stream that ended; the message says why (shown to the user)."""


class StreamRefused(Exception):
    """The peer would not open the stream (``code``: e.g. ``tunnel_port_not_allowed``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PriorityGate:
    """One sender at a time; control sends go before waiting data sends."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._urgent = 0
        self._calm = asyncio.Event()
        self._calm.set()

    @asynccontextmanager
    async def control(self) -> AsyncIterator[None]:
        self._urgent += 1
        self._calm.clear()
        try:
            async with self._lock:
                yield
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._calm.set()

    @asynccontextmanager
    async def data(self) -> AsyncIterator[None]:
        while True:
            await self._calm.wait()
            await self._lock.acquire()
            if not self._urgent:
                break
            self._lock.release()
        try:
            yield
        finally:
            self._lock.release()


class Stream:
    """One relayed byte stream. ``read`` returns ``b""`` once it ended (``reason`` says why
    when it ended abnormally); ``write`` raises ``StreamClosed`` after the end."""

    def __init__(self, mux: Mux, stream_id: int, send_window: int) -> None:
        self.id = stream_id
        self._mux = mux
        self._inbox: deque[bytes] = deque()
        self._buffered = 0
        self._readable = asyncio.Event()
        self._credit = send_window
        self._credit_changed = asyncio.Event()
        self._consumed = 0
        self.closed = False
        self.eof_received = False  # the peer shut its write side (tunnel.eof.v1)
        self.eof_sent = False
        self.reason = ""
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def buffered(self) -> int:
        return self._buffered

    @property
    def at_eof(self) -> bool:
        """Nothing more will come from the peer (it shut its write side, or the stream ended)."""
        return self.closed or self.eof_received

    async def read(self) -> bytes:
        while not self._inbox:
            if self.at_eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = self._inbox.popleft()
        self._buffered -= len(chunk)
        self._consumed += len(chunk)
        if self._consumed >= self._mux.window // 4 and not self.closed:
            credit, self._consumed = self._consumed, 0
            await self._mux.send_control(TunnelCredit(stream_id=self.id, bytes=credit))
        return chunk

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.closed:
                raise StreamClosed(self.reason or "the tunnel stream is closed")
            if self._credit <= 0:
                self._credit_changed.clear()
                await self._credit_changed.wait()
                continue
            size = min(len(view), self._credit, MAX_CHUNK)
            self._credit -= size
            try:
                await self._mux.send_data(pack_data(self.id, bytes(view[:size])))
            except Exception as exc:
                self._end("the connection to the agent was lost")
                raise StreamClosed(self.reason) from exc
            self.bytes_out += size
            view = view[size:]

    async def write_eof(self) -> bool:
        """Shut this side's write direction: the peer reads EOF, and may keep sending. True
        when the peer understands half-closed streams; else the whole stream is closed (its
        reverse direction too) and False is returned."""
        if self.closed:
            return False
        if not self._mux.half_close:
            await self.close()
            return False
        if not self.eof_sent:
            self.eof_sent = True
            await self._mux.send_control(TunnelEof(stream_id=self.id))
        return True

    async def close(self, reason: str = "") -> None:
        """End the stream both ways and tell the peer (``reason`` when abnormal)."""
        if self._mux.forget(self.id) is None and self.closed:
            return
        self._end(reason)
        await self._mux.send_control(TunnelClose(stream_id=self.id, reason=reason[:500]))

    def _received(self, payload: bytes) -> bool:
        if self.closed:
            return True  # late bytes of a stream we ended: dropped
        if self._buffered + len(payload) > self._mux.window:
            return False
        self._inbox.append(payload)
        self._buffered += len(payload)
        self.bytes_in += len(payload)
        self._readable.set()
        return True

    def _eof(self) -> None:
        self.eof_received = True
        self._readable.set()

    def _credited(self, amount: int) -> None:
        self._credit += amount
        self._credit_changed.set()

    def _end(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.reason = reason
        self._readable.set()
        self._credit_changed.set()


class Mux:
    """The streams of one connection. The opening side calls ``open`` (the gateway); the
    accepting side gets ``tunnel.open.v1`` in ``feed`` and answers with ``accept``/``refuse``."""

    def __init__(
        self,
        send_control: SendControl,
        send_data: SendData,
        *,
        window: int = DEFAULT_WINDOW,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self._send_control = send_control
        self.send_data = send_data
        self.window = window
        self.max_streams = max_streams
        self._streams: dict[int, Stream] = {}
        self._opening: dict[int, asyncio.Future[TunnelOpened]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed_reason: str | None = None
        #: The peer understands ``tunnel.eof.v1`` (its hello or welcome said so).
        self.half_close = False

    def __len__(self) -> int:
        return len(self._streams)

    def streams(self) -> list[Stream]:
        return list(self._streams.values())

    async def send_control(self, frame: BaseModel) -> None:
        with suppress(Exception):  # the connection is gone: its loss ends every stream
            await self._send_control(frame)

    def forget(self, stream_id: int) -> Stream | None:
        return self._streams.pop(stream_id, None)

    # ------------------------------------------------------------ the opening side

    async def open(self, port: int, tunnel_id: str, timeout: float = 10.0) -> Stream:
        """Ask the peer to connect its ``127.0.0.1:port``; raises ``StreamRefused``."""
        if self.closed_reason is not None:
            raise StreamRefused("agent_not_connected", self.closed_reason)
        if len(self._streams) >= self.max_streams:
            raise StreamRefused(
                "tunnel_limit_reached",
                f"The agent's connection already relays {self.max_streams} streams; close some.",
            )
        stream_id = next(self._ids)
        stream = self._streams[stream_id] = Stream(self, stream_id, 0)
        future: asyncio.Future[TunnelOpened] = asyncio.get_running_loop().create_future()
        self._opening[stream_id] = future
        try:
            await self._send_control(
                TunnelOpen(stream_id=stream_id, port=port, tunnel_id=tunnel_id, window=self.window)
            )
            async with asyncio.timeout(timeout):
                opened = await future
        except TimeoutError:
            self.forget(stream_id)
            await self.send_control(TunnelClose(stream_id=stream_id, reason="open timed out"))
            raise StreamRefused(
                "tunnel_open_failed", f"The agent did not open port {port} within {timeout:g} s."
            ) from None
        except StreamClosed as exc:
            self.forget(stream_id)
            raise StreamRefused("agent_not_connected", str(exc)) from None
        except Exception as exc:
            self.forget(stream_id)
            raise StreamRefused("agent_not_connected", "The agent's connection was lost.") from exc
        finally:
            self._opening.pop(stream_id, None)
        if not opened.ok:
            self.forget(stream_id)
            raise StreamRefused(
                opened.error_code or "tunnel_open_failed",
                opened.error_message or f"The agent could not open port {port}.",
            )
        stream._credited(opened.window)
        return stream

    # ------------------------------------------------------------ the accepting side

    async def accept(self, frame: TunnelOpen) -> Stream:
        stream = self._streams[frame.stream_id] = Stream(self, frame.stream_id, frame.window)
        await self.send_control(
            TunnelOpened(stream_id=frame.stream_id, ok=True, window=self.window)
        )
        return stream

    async def refuse(self, frame: TunnelOpen, code: str, message: str) -> None:
        await self.send_control(
            TunnelOpened(
                stream_id=frame.stream_id, ok=False, error_code=code, error_message=message
            )
        )

    # ------------------------------------------------------------ the reader

    def feed_data(self, message: bytes) -> None:
        """A binary message from the peer (never waits)."""
        try:
            stream_id, payload = unpack_data(message)
        except ValueError:
            return
        stream = self._streams.get(stream_id)
        if stream is not None and not stream._received(payload):
            self._spawn(stream.close("the peer sent more than its window (flow control)"))

    def feed(self, frame: TunnelFrame) -> None:
        """A tunnel control frame from the peer; ``tunnel.open.v1`` is the caller's to accept."""
        if isinstance(frame, TunnelOpened):
            future = self._opening.get(frame.stream_id)
            if future is not None and not future.done():
                future.set_result(frame)
        elif isinstance(frame, TunnelCredit):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream._credited(frame.bytes)
        elif isinstance(frame, TunnelEof):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream._eof()
        elif isinstance(frame, TunnelClose):
            stream = self.forget(frame.stream_id)
            if stream is not None:
                stream._end(frame.reason)

    def close_all(self, reason: str) -> None:
        """The connection is gone: every stream ends with ``reason`` (the user sees it)."""
        self.closed_reason = reason
        for stream in list(self._streams.values()):
            stream._end(reason)
        self._streams.clear()
        for future in self._opening.values():
            if not future.done():
                future.set_exception(StreamClosed(reason))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def both_ways(*halves: Awaitable[bool]) -> BaseException | None:
    """Run the directions of one relayed connection. Each returns True when its direction ended
    cleanly with its EOF passed on (the other keeps flowing: a half-closed connection), False
    when the whole connection is over. Returns once every direction ended cleanly, or as soon as
    one did not (the others are cancelled), with the first exception raised, if any."""
    tasks = [asyncio.ensure_future(half) for half in halves]
    error: BaseException | None = None
    try:
        pending: set[asyncio.Future[bool]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            over = False
            for task in done:
                if task.cancelled():
                    over = True
                elif (exc := task.exception()) is not None:
                    error, over = error or exc, True
                elif not task.result():
                    over = True
            if over:
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return error
