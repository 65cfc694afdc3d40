"""The frame channel tasks talk through (a ``ServerLink``): sends, request/reply matching, outbox.

A ``Link`` outlives any one WebSocket: the connection ``attach``es each socket after the welcome
and ``detach``es it when the socket is lost. While detached, task outcomes (complete, fail,
cancelled, release) wait in the outbox and are the first frames of the next connection; progress
frames and acks are dropped; requests wait for the next connection until their timeout.
Replies (``OutputUrlGrant``, ``InputUrlGrant``, or an ``ErrorFrame`` with ``in_reply_to``) are
matched to requests by ``request_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from runyard_agent.transfer import RequestFailedError
from runyard_protocol import (
    ErrorFrame,
    InputUrlGrant,
    OutputUrlGrant,
    TaskCancelled,
    TaskComplete,
    TaskFail,
    TaskRelease,
    dump_frame,
)

__all__ = ["Link"]

_Reply = TypeVar("_Reply", bound=BaseModel)
_OUTCOMES = (TaskComplete, TaskFail, TaskCancelled, TaskRelease)


class Link:
    def __init__(self, log: logging.LoggerAdapter[logging.Logger], request_timeout: float) -> None:
        self._log = log
        self._request_timeout = request_timeout
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._outbox: list[BaseModel] = []
        self._pending: dict[str, asyncio.Future[BaseModel]] = {}

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def socket(self) -> ClientConnection | None:
        return self._ws

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def attach(self, ws: ClientConnection) -> None:
        """Flush the outbox through ``ws``, then route every frame through it."""
        outbox, self._outbox = self._outbox, []
        for index, frame in enumerate(outbox):
            try:
                await ws.send(dump_frame(frame))
            except ConnectionClosed:
                self._outbox = outbox[index:] + self._outbox
                raise
        self._ws = ws
        self._connected.set()

    def detach(self) -> None:
        self._ws = None
        self._connected.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))

    def outbox_tasks(self) -> list[tuple[str, int]]:
        """(task_id, attempt) of every outcome still waiting to be sent."""
        return [key for frame in self._outbox if (key := _task_key(frame)) is not None]

    def forget_tasks(self, keys: Iterable[tuple[str, int]]) -> None:
        dropped = set(keys)
        self._outbox = [frame for frame in self._outbox if _task_key(frame) not in dropped]

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
        """Send now; task outcomes wait in the outbox while disconnected, the rest are dropped."""
        ws = self._ws
        if ws is not None and self._connected.is_set():
            try:
                await ws.send(dump_frame(frame))
                return
            except ConnectionClosed:
                pass
        if isinstance(frame, _OUTCOMES):
            self._log.info(
                "not connected: keeping %s of task %s for the next connection",
                frame.type,
                frame.task_id,
            )
            self._outbox.append(frame)

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
                        await ws.send(dump_frame(frame))
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


def _task_key(frame: BaseModel) -> tuple[str, int] | None:
    if isinstance(frame, _OUTCOMES):
        return (frame.task_id, frame.attempt)
    return None
