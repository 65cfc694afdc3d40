"""Frames of one task that queued up together, applied in one unit of work.

Under load a task's ``task.ack``, ``task.progress`` and ``task.output_url`` frames wait behind
each other in the task's lane (``lanes.py``). One by one, each is its own transaction: a lock of
the task row, its change, its event and a commit. Taken together, the run of such frames at the
head of the lane shares one transaction and one commit; a progress report followed by another
in the same run is superseded by it. The replies (output URL grants) go out after the commit, in
order. If any frame of the run is stale, nothing of the run is kept and its frames are handled
one by one, so each gets exactly the answer it would have had alone.

Whether a run shares one unit is the transition seam's choice (``TaskTransitions.joins_runs``):
where each ack and progress report is one statement (PostgreSQL), a run without output-URL
requests is applied frame by frame instead.
"""

from __future__ import annotations

import logging

from runyard.gateway.handlers import FrameHandler, apply_progress, grant
from runyard.tasks.execution import Slot, StaleAttempt, TaskExecution
from runyard_protocol import AgentFrame, OutputUrlRequest, TaskAck, TaskProgress

log = logging.getLogger("runyard.gateway")
TOGETHER = (TaskAck, TaskProgress, OutputUrlRequest)


def can_join(frame: AgentFrame) -> bool:
    """Whether the frame may share a unit of work with its neighbours in the lane."""
    return isinstance(frame, TOGETHER)


async def handle_run(handler: FrameHandler, frames: list[AgentFrame]) -> None:
    last_report = max((i for i, f in enumerate(frames) if isinstance(f, TaskProgress)), default=-1)
    grants = sum(isinstance(f, OutputUrlRequest) for f in frames)
    if not handler.transitions.joins_runs(len(frames), grants):
        # Frame by frame; a superseded progress report is still not stored.
        for i, frame in enumerate(frames):
            if not isinstance(frame, TaskProgress) or i == last_report:
                await handler.handle(frame)
        return
    granted: list[tuple[OutputUrlRequest, Slot]] = []
    acked: list[TaskAck] = []
    try:
        async with handler.db.unit() as uow:
            ex = TaskExecution(uow, handler.settings)
            for i, frame in enumerate(frames):
                if isinstance(frame, TaskAck):
                    now = handler.conn.last_seen or handler.clock.now()
                    await ex.ack(handler.me, frame.task_id, frame.attempt, now)
                    acked.append(frame)
                elif isinstance(frame, TaskProgress):
                    if i == last_report and handler.progress_to_store(frame):
                        await apply_progress(ex, handler.me, frame, handler.clock)
                elif isinstance(frame, OutputUrlRequest):
                    granted.append((frame, await grant(ex, handler, frame)))
    except StaleAttempt:
        for frame in frames:
            await handler.handle(frame)
        return
    for ack in acked:
        log.info("ack task=%s attempt=%d agent=%s", ack.task_id, ack.attempt, handler.me.agent_id)
    for request, slot in granted:
        await handler.send_grant(request, slot)
