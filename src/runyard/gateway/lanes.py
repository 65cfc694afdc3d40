"""The frames of one agent connection, handled without head-of-line blocking.

Frames of one task are handled in the order they arrived (ack before progress before the
outcome); frames of different tasks, and heartbeats, are handled concurrently. A heartbeat
therefore never waits behind a slow output-URL grant or completion of another task, and the
agent's liveness is stamped when a frame *arrives* (``Connection.last_seen``), not when its
handler finishes.

A handler that fails unexpectedly (the database went away) closes the connection with a
retryable code: the agent reconnects and resends what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from runyard_protocol import AgentFrame, Heartbeat

log = logging.getLogger("runyard.gateway")
Handle = Callable[[AgentFrame], Awaitable[None]]
OnFailure = Callable[[BaseException], Awaitable[None]]


def lane_of(frame: AgentFrame) -> str:
    if isinstance(frame, Heartbeat):
        return "heartbeat"
    task_id = getattr(frame, "task_id", None)
    return f"task:{task_id}" if task_id else frame.type


class FrameLanes:
    def __init__(self, handle: Handle, on_failure: OnFailure) -> None:
        self._handle = handle
        self._on_failure = on_failure
        self._queues: dict[str, deque[AgentFrame]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def submit(self, frame: AgentFrame) -> None:
        lane = lane_of(frame)
        queue = self._queues.get(lane)
        if queue is not None:
            queue.append(frame)
            return
        queue = self._queues[lane] = deque([frame])
        worker = asyncio.create_task(self._drain(lane, queue), name=f"runyard-lane-{lane}")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _drain(self, lane: str, queue: deque[AgentFrame]) -> None:
        try:
            while queue:
                try:
                    await self._handle(queue[0])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("frame %s failed; closing the connection", queue[0].type)
                    await self._on_failure(exc)
                    return
                queue.popleft()
        finally:
            # No await between the last check of ``queue`` and here: a frame submitted meanwhile
            # is impossible, so nothing is stranded.
            self._queues.pop(lane, None)

    async def close(self, timeout: float) -> None:
        """Let in-flight frames finish (bounded), then stop the rest."""
        if not self._workers:
            return
        _, pending = await asyncio.wait(set(self._workers), timeout=timeout)
        for worker in pending:
            worker.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
