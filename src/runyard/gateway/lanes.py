"""The frames of one agent connection, handled without head-of-line blocking.

Frames of one task are handled in the order they arrived (ack before progress before the
outcome); the acks, progress reports and output-URL requests waiting together at the head of a
task's lane are handed over as one run (applied in one unit of work, ``batch.py``). Frames of
different tasks, and heartbeats, are handled concurrently. A heartbeat therefore never waits
behind a slow output-URL grant or completion of another task, and the agent's liveness is
stamped when a frame *arrives* (``Connection.last_seen``), not when its handler finishes.

The work is bounded (``RUNYARD_GATEWAY_*``): at most ``concurrency`` runs are handled at once
(each may hold a database connection, so one connection cannot take the pool from the API), and
once ``backlog`` frames wait, ``room()`` blocks the connection's reader: the agent's sends then
wait on TCP instead of piling up in the server's memory.

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
    def __init__(
        self,
        handle: HandleRun,
        on_failure: OnFailure,
        can_join: CanJoin,
        *,
        concurrency: int = 4,
        backlog: int = 1000,
    ) -> None:
        self._handle = handle
        self._can_join = can_join
        self._on_failure = on_failure
        self._queues: dict[str, deque[AgentFrame]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._backlog = backlog
        self._waiting = 0  # frames submitted and not yet handled
        self._room = asyncio.Event()
        self._room.set()

    async def room(self) -> None:
        """Return once fewer than ``backlog`` frames wait (at once, usually)."""
        while self._waiting >= self._backlog:
            self._room.clear()
            await self._room.wait()

    def submit(self, frame: AgentFrame) -> None:
        self._waiting += 1
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
                async with self._slots:
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
                self._handled(len(run))
        finally:
            # No await between the last check of ``queue`` and here: a frame submitted meanwhile
            # is impossible, so nothing is stranded.
            self._queues.pop(lane, None)
            self._handled(len(queue))
            queue.clear()

    def _handled(self, count: int) -> None:
        self._waiting -= count
        if self._waiting < self._backlog:
            self._room.set()

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
