"""The frames of one agent connection, handled without head-of-line blocking.

Frames of one task are handled in the order they arrived (ack before progress before the
outcome); the acks, progress reports and output-URL requests waiting together at the head of a
task's lane are handed over as one run (applied in one unit of work, ``batch.py``). Frames of
different tasks, and heartbeats, are handled concurrently. A heartbeat therefore never waits
behind a slow output-URL grant or completion of another task, and the agent's liveness is
stamped when a frame *arrives* (``Connection.last_seen``), not when its handler finishes.

A handler that fails unexpectedly (the database went away) closes the connection with a
retryable code: the agent reconnects and resends what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from runyard_protocol import AgentFrame, Heartbeat

log = logging.getLogger("runyard.gateway")
HandleRun = Callable[[list[AgentFrame]], Awaitable[None]]
CanJoin = Callable[[AgentFrame], bool]
OnFailure = Callable[[BaseException], Awaitable[None]]


def lane_of(frame: AgentFrame) -> str:
    if isinstance(frame, Heartbeat):
        return "heartbeat"
    task_id = getattr(frame, "task_id", None)
    return f"task:{task_id}" if task_id else frame.type


class FrameLanes:
    def __init__(self, handle: HandleRun, on_failure: OnFailure, can_join: CanJoin) -> None:
        self._handle = handle
        self._can_join = can_join
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
                run = self._run_at_head(queue)
                try:
                    await self._handle(run)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("frame %s failed; closing the connection", run[0].type)
                    await self._on_failure(exc)
                    return
                for _ in run:
                    queue.popleft()
        finally:
            # No await between the last check of ``queue`` and here: a frame submitted meanwhile
            # is impossible, so nothing is stranded.
            self._queues.pop(lane, None)

    def _run_at_head(self, queue: deque[AgentFrame]) -> list[AgentFrame]:
        """The first frame, with the frames after it that may share its unit of work."""
        run = [queue[0]]
        if self._can_join(queue[0]):
            for frame in itertools.islice(queue, 1, None):
                if not self._can_join(frame):
                    break
                run.append(frame)
        return run

    async def close(self, timeout: float) -> None:
        """Let in-flight frames finish (bounded), then stop the rest."""
        if not self._workers:
            return
        _, pending = await asyncio.wait(set(self._workers), timeout=timeout)
        for worker in pending:
            worker.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
