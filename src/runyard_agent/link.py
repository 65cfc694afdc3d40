"""The frame channel tasks talk through (a ``ServerLink``): sends, request/reply matching, outbox.

A ``Link`` outlives any one WebSocket: the connection ``attach``es each socket after the welcome
and ``detach``es it when the socket is lost. Task outcomes (complete, fail, cancelled, release)
go through the ``Outbox`` and stay there until the server acknowledges them; every outcome still
waiting is sent again as the first frames of the next connection. Progress frames and acks are
dropped while detached; requests wait for the next connection until their timeout.
Replies (``OutputUrlGrant``, ``InputUrlGrant``, or an ``ErrorFrame`` with ``in_reply_to``) are
matched to requests by ``request_id``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from contextlib import suppress
from typing import TypeVar

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from runyard_agent.outbox import Outbox
from runyard_agent.transfer import RequestFailedError
from runyard_agent.tunnels import TunnelRelay
from runyard_protocol import (
    OUTCOMES,
    ErrorFrame,
    InputUrlGrant,
    OutcomeAck,
    OutputUrlGrant,
    PriorityGate,
    RunningTask,
    TaskPreview,
    dump_frame,
)

__all__ = ["Link"]

_Reply = TypeVar("_Reply", bound=BaseModel)


class Link:
    def __init__(
        self,
        log: logging.LoggerAdapter[logging.Logger],
        request_timeout: float,
        tunnel_ports: list[int] | None = None,
    ) -> None:
        self._log = log
        # Every send of a socket goes through the gate: frames before tunnel data.
        self.gate = PriorityGate()
        self.tunnels = TunnelRelay(log, tunnel_ports or [])
        self._request_timeout = request_timeout
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self.outbox = Outbox()
        self._pending: dict[str, asyncio.Future[BaseModel]] = {}
        # An older server refused task.preview.v1 (protocol_error): none on this connection.
        self.previews_refused = False
        # What the current server's welcome offered: outputs up to this size go inline.
        self.inline_output_max = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def socket(self) -> ClientConnection | None:
        return self._ws

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def attach(self, ws: ClientConnection) -> None:
        """Send every unacknowledged outcome through ``ws`` again, then route every frame
        through it. The outcomes stay in the outbox until acknowledged."""
        for frame in self.outbox.frames():
            await self.send_text(ws, dump_frame(frame))

        async def send_data(message: bytes) -> None:
            async with self.gate.data():
                await ws.send(message)

        self.tunnels.attach(functools.partial(self.send_text, ws), send_data)
        self._ws = ws
        self.previews_refused = False  # the next server may be a newer one
        self._connected.set()

    async def send_text(self, ws: ClientConnection, text: str) -> None:
        """Send one frame on ``ws`` ahead of any tunnel data waiting to be sent."""
        async with self.gate.control():
            await ws.send(text)

    def detach(self) -> None:
        self.tunnels.detach("The agent's connection to the server was lost.")
        self._ws = None
        self._connected.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))

    def outbox_tasks(self) -> list[tuple[str, int]]:
        """(task_id, attempt) of every outcome the server has not acknowledged yet."""
        return self.outbox.keys()

    def forget_tasks(self, keys: Iterable[tuple[str, int]]) -> None:
        self.outbox.forget(set(keys))

    async def wait_acknowledged(self, timeout: float) -> bool:
        """Wait (bounded) until the server acknowledged every outcome; False on timeout."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.outbox.keys() and self.connected:
                    await asyncio.sleep(0.02)
        return not self.outbox.keys()

    def acknowledged(self, ack: OutcomeAck) -> None:
        self.outbox.acknowledged(ack.task_id, ack.attempt)
        if ack.result == "refused":
            self._log.warning(
                "the server refused the %s of task %s (attempt %d): %s",
                ack.outcome,
                ack.task_id,
                ack.attempt,
                ack.error_message or "not the current attempt",
            )

    def refused_previews(self, frame: ErrorFrame) -> bool:
        """True for an older server's ``protocol_error`` about ``task.preview.v1`` (an
        optional frame; it names no task): previews stop for this connection, nothing else
        changes. A newer server's refusal of one preview names its task and is only logged."""
        if (
            frame.error_code != "protocol_error"
            or frame.task_id
            or "task.preview.v1" not in frame.error_message
        ):
            return False
        if not self.previews_refused:
            self._log.info("the server does not take live previews; not sending them")
        self.previews_refused = True
        return True

    def with_outbox(self, running: list[RunningTask]) -> list[RunningTask]:
        """``running`` and the tasks whose outcomes still wait in the outbox (the hello and
        heartbeats list both: the server must not retry a task whose outcome is on its way)."""
        known = {(item.task_id, item.attempt) for item in running}
        for key in self.outbox_tasks():
            if key not in known:
                known.add(key)
                running.append(RunningTask(task_id=key[0], attempt=key[1]))
        return running

    def refused(self, frame: ErrorFrame) -> None:
        """A refusal from the server: previews stop (``refused_previews``), a waiting request
        fails, anything else is logged."""
        if self.refused_previews(frame) or self.resolve(frame):
            return
        self._log.warning(
            "the server refused a frame%s: %s: %s",
            f" of task {frame.task_id}" if frame.task_id else "",
            frame.error_code,
            frame.error_message,
        )

    def resolve(self, frame: OutputUrlGrant | InputUrlGrant | ErrorFrame) -> bool:
        """Hand a reply to the request waiting for it; False when nobody waits."""
        if isinstance(frame, ErrorFrame):
            future = self._pending.get(frame.in_reply_to or "")
            if future is None or future.done():
                return False
            future.set_exception(RequestFailedError(frame.error_message, frame.error_code))
            return True
        future = self._pending.get(frame.request_id)
        if future is None or future.done():
            return False
        future.set_result(frame)
        return True

    async def send(self, frame: BaseModel) -> None:
        """Send now. A task outcome is kept in the outbox first (until acknowledged, resent on
        the next connection); anything else is dropped while disconnected."""
        if isinstance(frame, TaskPreview) and self.previews_refused:
            return
        outcome = frame if isinstance(frame, OUTCOMES) else None
        if outcome is not None:
            self.outbox.put(outcome)
        ws = self._ws
        if ws is not None and self._connected.is_set():
            try:
                await self.send_text(ws, dump_frame(frame))
                return
            except ConnectionClosed:
                pass
        if outcome is not None:
            self._log.info(
                "not connected: keeping %s of task %s for the next connection",
                outcome.type,
                outcome.task_id,
            )

    async def request(self, frame: BaseModel, reply_type: type[_Reply]) -> _Reply:
        """Send a request and wait for the reply with its ``request_id``, across reconnects."""
        request_id = str(getattr(frame, "request_id", ""))
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._request_timeout):
                while True:
                    await self._connected.wait()
                    ws = self._ws
                    future: asyncio.Future[BaseModel] = loop.create_future()
                    self._pending[request_id] = future
                    try:
                        if ws is None:
                            raise ConnectionError("not connected")
                        await self.send_text(ws, dump_frame(frame))
                        reply = await future
                    except (ConnectionClosed, ConnectionError):
                        await asyncio.sleep(0.05)  # let the session notice the loss first
                        continue
                    finally:
                        self._pending.pop(request_id, None)
                    if not isinstance(reply, reply_type):
                        raise RequestFailedError(f"unexpected answer {type(reply).__name__}")
                    return reply
        except TimeoutError:
            raise RequestFailedError(
                f"the server did not answer within {self._request_timeout:g}s", "request_timeout"
            ) from None
