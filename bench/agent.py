"""A protocol-following lightweight agent for the dispatch-latency row (P3).

It speaks the agent protocol of ``runyard_protocol`` (``docs/agent-protocol.md``): hello,
heartbeats, and for each ``task.assign.v1`` an ack and an immediate ``task.complete.v1`` with no
outputs. It stamps ``time.perf_counter()`` the moment an assignment frame arrives; it runs in the
benchmark's own process and event loop, so the client's submit stamp and the agent's arrival stamp
come from one clock. It is not the real agent: the real agent's per-task cost is what P4 measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from runyard_protocol import (
    AgentHello,
    Heartbeat,
    TaskAck,
    TaskComplete,
    dump_frame,
)


class BenchAgent:
    def __init__(self, url: str, agent_key: str, agent_id: str, label: str) -> None:
        self.ws_url = url.replace("http://", "ws://", 1) + "/api/v1/agent/ws"
        self.key = agent_key
        self.agent_id = agent_id
        self.label = label
        self.arrivals: dict[str, float] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._ws = await connect(
            self.ws_url, additional_headers={"Authorization": f"Bearer {self.key}"}
        )
        hello = AgentHello(
            agent_id=self.agent_id, labels=[self.label], capacity=4, runtimes=["python"]
        )
        await self._ws.send(dump_frame(hello))
        welcome = json.loads(await self._ws.recv())
        if welcome.get("type") != "server.welcome.v1":
            raise RuntimeError(f"no welcome: {welcome}")
        self._tasks = [
            asyncio.create_task(self._read(welcome["heartbeat_interval"])),
        ]

    def expect(self, task_id: str) -> asyncio.Event:
        return self._arrived.setdefault(task_id, asyncio.Event())

    async def _read(self, heartbeat_interval: float) -> None:
        assert self._ws is not None
        ws = self._ws
        beat = asyncio.create_task(self._heartbeats(heartbeat_interval))
        try:
            async for raw in ws:
                now = time.perf_counter()
                frame: dict[str, Any] = json.loads(raw)
                if frame.get("type") != "task.assign.v1":
                    continue
                task_id, attempt = frame["task_id"], frame["attempt"]
                self.arrivals[task_id] = now
                self.expect(task_id).set()
                await ws.send(dump_frame(TaskAck(task_id=task_id, attempt=attempt)))
                await ws.send(dump_frame(TaskComplete(task_id=task_id, attempt=attempt)))
        finally:
            beat.cancel()

    async def _heartbeats(self, interval: float) -> None:
        assert self._ws is not None
        while True:
            await asyncio.sleep(interval)
            await self._ws.send(dump_frame(Heartbeat()))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
