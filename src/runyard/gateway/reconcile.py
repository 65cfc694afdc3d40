"""What a (re)connecting agent's report means for its tasks, and whether an outcome it sends
again was already applied. Pure policy over ``TaskQueue`` and ``lifecycle``; the gateway's unit
of work for the hello or the frame commits."""

from __future__ import annotations

import logging

from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.models import Task
from runyard.states import HELD, SCHEDULABLE, TERMINAL, TaskStatus
from runyard.tasks import lifecycle
from runyard.tasks.execution import AgentRef
from runyard.tasks.repository import TaskQueue
from runyard_protocol import OutcomeKind, RunningTask

log = logging.getLogger("runyard.gateway")


def already_applied(task: Task | None, me: AgentRef, attempt: int, kind: OutcomeKind) -> bool:
    """Whether the task's state already reflects this outcome of this agent's attempt (a resend
    after the acknowledgement was lost): then it is acknowledged again, not applied twice."""
    if task is None or task.team_id != me.team_id or task.attempt != attempt:
        return False
    if kind == "release":
        return task.task_status in SCHEDULABLE or task.task_status is TaskStatus.CANCELLED
    return task.task_status in TERMINAL and task.agent_id in (me.agent_id, None)


async def stale_reports(
    queue: TaskQueue, me: AgentRef, running: list[RunningTask]
) -> list[RunningTask]:
    """The reported tasks this agent must drop: not (or no longer) its current attempt."""
    if not running:
        return []
    reported = {(r.task_id, r.attempt) for r in running}
    current = {
        t.id
        for t in await queue.attempts_of(r.task_id for r in running)
        if t.team_id == me.team_id
        and t.agent_id == me.agent_id
        and t.task_status in HELD
        and (t.id, t.attempt) in reported
    }
    return [r for r in running if r.task_id not in current]


async def reconcile_on_hello(
    uow: UnitOfWork, me: AgentRef, running: list[RunningTask], clock: Clock
) -> list[RunningTask]:
    """On (re)connect: keep reported tasks still assigned to this attempt (a queued one becomes
    running: its ack is implied), drop the rest, requeue assignments that never reached the
    agent (no retry used), and retry the running tasks it no longer reports (it restarted)."""
    queue = TaskQueue(uow.session)
    drop = await stale_reports(queue, me, running)
    kept = {r.task_id for r in running} - {d.task_id for d in drop}
    now = clock.now()
    for task in await queue.held_by(me.team_id, me.agent_id):
        if task.id in kept:
            if task.task_status is TaskStatus.QUEUED:
                # It runs there: an ack lost with the old connection is implied.
                lifecycle.move(uow, task, TaskStatus.RUNNING, now)
            continue
        if task.task_status is TaskStatus.QUEUED:
            # Never acknowledged and not reported: the assignment did not reach the agent (a
            # server that died between commit and send, or a dropped connection). Nothing ran,
            # so it goes back to the queue without using a retry.
            log.info("assignment never reached task=%s agent=%s; requeued", task.id, me.agent_id)
            lifecycle.move(uow, task, TaskStatus.PENDING, now)
            continue
        lifecycle.retry_or_fail(
            uow, task, now, f"Agent {me.agent_id!r} restarted and lost the task"
        )
    return drop
