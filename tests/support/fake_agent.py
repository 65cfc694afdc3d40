"""A protocol-following fake agent, driven step by step by a test: it speaks the frames of
``runyard_protocol`` (so it follows the protocol version the package declares) over a real
WebSocket, heartbeats on its own, records every frame the server sends, and can drop its
connection at any point, where ``runyard agent`` would not."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from runyard_protocol import (
    AgentHello,
    Heartbeat,
    OutputUrlRequest,
    RunningTask,
    dump_frame,
)


def kind(frame: dict[str, Any]) -> str:
    """A frame's name without its version: ``task.assign.v1`` -> ``task.assign``."""
    return str(frame.get("type", "")).rsplit(".", 1)[0]


class FakeAgent:
    def __init__(
        self, server_url: str, agent_key: str, agent_id: str, *, capacity: int = 1
    ) -> None:
        self.ws_url = server_url.replace("http", "ws", 1) + "/api/v1/agent/ws"
        self.agent_key = agent_key
        self.agent_id = agent_id
        self.capacity = capacity
        self.running: list[RunningTask] = []  # what heartbeats report
        self.received: list[dict[str, Any]] = []  # every frame of every connection
        self.heartbeats_sent = 0
        self.close_code: int | None = None
        self._ws: ClientConnection | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        self.interval = 1.0

    async def connect(self, running: list[RunningTask] | None = None) -> dict[str, Any]:
        """Dial, say hello (listing ``running``), and return the welcome."""
        self.running = list(running or [])
        self.close_code = None
        self._inbox = asyncio.Queue()
        self._ws = await connect(
            self.ws_url,
            additional_headers={"Authorization": f"Bearer {self.agent_key}"},
            max_size=16 * 1024 * 1024,
        )
        hello = AgentHello(
            agent_id=self.agent_id,
            labels=["cpu"],
            capacity=self.capacity,
            agent_version="fake",
            runtimes=["python"],
            running_tasks=self.running,
        )
        await self._ws.send(dump_frame(hello))
        self._tasks = [asyncio.create_task(self._read(self._ws))]
        welcome = await self.expect("server.welcome", timeout=15)
        self.interval = float(welcome["heartbeat_interval"])
        self._tasks.append(asyncio.create_task(self._heartbeat(self._ws)))
        return welcome

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.received.append(frame)
                await self._inbox.put(frame)
        except ConnectionClosed:
            pass
        finally:
            if ws.close_code is not None:
                self.close_code = ws.close_code
            await self._inbox.put({"type": "closed.local", "code": ws.close_code})

    async def _heartbeat(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(dump_frame(Heartbeat(running_tasks=self.running)))
                self.heartbeats_sent += 1
                await asyncio.sleep(self.interval)

    def stop_heartbeats(self) -> None:
        """Stop the automatic heartbeats (a test then sends its own)."""
        for task in self._tasks[1:]:
            task.cancel()

    async def send(self, frame: BaseModel) -> None:
        assert self._ws is not None
        await self._ws.send(dump_frame(frame))

    async def expect(self, name: str, timeout: float = 15) -> dict[str, Any]:
        """The next frame called ``name`` (other frames are kept in ``received`` only)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name} frame within {timeout} s")
            try:
                frame = await asyncio.wait_for(self._inbox.get(), left)
            except TimeoutError:
                raise TimeoutError(f"no {name} frame within {timeout} s") from None
            if kind(frame) == name:
                return frame
            if kind(frame) == "closed":
                raise ConnectionError(f"connection closed (code {frame['code']}) before {name}")

    async def output_url(
        self, task_id: str, attempt: int, output_id: str, size: int
    ) -> dict[str, Any]:
        request_id = f"r{next(self._ids)}"
        await self.send(
            OutputUrlRequest(
                request_id=request_id,
                task_id=task_id,
                attempt=attempt,
                output_id=output_id,
                file_name=f"{output_id}.txt",
                content_type="text/plain",
                file_size=size,
            )
        )
        while True:
            frame = await self.expect_any(("task.output_url.result", "error"), timeout=15)
            if frame.get("request_id") == request_id or frame.get("in_reply_to") == request_id:
                return frame

    async def expect_any(self, names: tuple[str, ...], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"none of {names} within {timeout} s")
            frame = await asyncio.wait_for(self._inbox.get(), left)
            if kind(frame) in names:
                return frame
            if kind(frame) == "closed":
                raise ConnectionError(f"connection closed (code {frame['code']}) before {names}")

    def assignments(self, task_id: str) -> list[int]:
        """The attempts of ``task_id`` the server assigned to this agent, in order."""
        return [
            int(f["attempt"])
            for f in self.received
            if kind(f) == "task.assign" and f["task_id"] == task_id
        ]

    async def drop(self) -> None:
        """Lose the connection abruptly (no close handshake), as a network failure would."""
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            self._ws.transport.abort()
            with contextlib.suppress(Exception):
                await self._ws.wait_closed()
        self._ws = None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._ws = None
