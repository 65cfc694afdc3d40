"""``TaskTransitions``: the one seam through which a task changes state. Submit (``create``),
the gateway (``ack``, ``progress``, ``complete``, ``fail``, ``cancelled``, ``release``) and the
dispatcher's general pass call it and never learn how a change is written.

This class is the general implementation: each transition is a unit of work through the ORM
(``TaskExecution`` and ``lifecycle``), on SQLite and for every case the fast one declines.
``PostgresTransitions`` (``pg_transitions.py``) writes the common case in one statement and
decides its own fallback to this one. ``services.py`` chooses the implementation once.
Transitions are observed through ``db.observer`` (the metrics), never by importing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.errors import Conflict
from runyard.models import IdempotencyKey, Task
from runyard.settings import Settings
from runyard.tasks import lifecycle
from runyard.tasks.execution import AgentRef, Slot, StaleAttempt, TaskExecution
from runyard.tasks.quota import QueueCap
from runyard.tasks.repository import TaskQueue


@dataclass(frozen=True)
class Idempotency:
    """The run's Idempotency-Key and the hash of its request."""

    key: str
    digest: str


@dataclass(frozen=True)
class Completion:
    """A ``task.complete`` as checked by the gateway: the reported outputs in order, the slots
    of those uploaded through URLs (or what is wrong with them), the slots of those sent inline
    (already in the store) and any problem found before the transition."""

    specs: list[dict[str, Any]]
    values: dict[str, Any] | None
    uploaded: list[Slot] | str
    inline: Sequence[Slot] = ()
    sent: int = 0  # outputs sent inline (stored or refused)
    problem: str | None = None


def queue_full(cap: int) -> Conflict:
    return Conflict(
        f"The team has {cap} unfinished tasks, the most it may queue; wait for some to "
        "finish or cancel them.",
        code="queue_full",
    )


class TaskTransitions:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        limits = settings.limits
        self.cap = QueueCap(lambda: limits.queued_tasks_per_team)

    # -- creation (inside the request's unit of work) -----------------------------------------
    async def create(self, uow: UnitOfWork, task: Task, *, idempotency: Idempotency | None) -> bool:
        """Add the pending ``task`` with its first event (and its idempotency row), within the
        team's queue cap (``quota.py``). False when the key is taken, by an earlier or a
        concurrent request (nothing added: the caller replays it)."""
        repo = TaskQueue(uow.session)
        if idempotency is not None and await repo.idempotency(task.team_id, idempotency.key):
            return False
        cap = self.cap.cap
        if self.cap.must_count(task.team_id):
            active = await repo.active_count(task.team_id, up_to=cap)
            self.cap.counted(task.team_id, active)
            if active >= cap:
                raise queue_full(cap)
        self.cap.admitted(task.team_id)
        repo.add(task)
        lifecycle.created(uow, task, task.created_at)
        if idempotency is None:
            return True
        repo.add(
            IdempotencyKey(
                team_id=task.team_id,
                key=idempotency.key,
                request_hash=idempotency.digest,
                task_id=task.id,
                created_at=task.created_at,
            )
        )
        try:
            await repo.flush()
        except IntegrityError:
            await uow.rollback()
            return False
        return True

    # -- what agents report, each in its own unit of work --------------------------------------
    def joins_runs(self, frames: int, grants: int) -> bool:
        """Whether a run of ``frames`` queued together in a task's lane (acks, progress, and
        ``grants`` output-URL requests) is applied in one unit of work rather than frame by
        frame: here, whenever there is more than one."""
        return frames > 1

    async def ack(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> None:
        async with self.db.unit() as uow:
            await TaskExecution(uow, self.settings).ack(agent, task_id, attempt, now)

    async def progress(
        self, agent: AgentRef, task_id: str, attempt: int, now: datetime, report: lifecycle.Report
    ) -> None:
        async with self.db.unit() as uow:
            await TaskExecution(uow, self.settings).progress(
                agent, task_id, attempt, now, report, store=True
            )

    async def complete(
        self, agent: AgentRef, task_id: str, attempt: int, now: datetime, done: Completion
    ) -> str | None:
        """Complete, or fail ``output_missing`` saying what is wrong (returned). Raises
        ``StaleAttempt`` when the attempt is not current."""
        problem = done.problem
        async with self.db.unit() as uow:
            ex = TaskExecution(uow, self.settings)
            if problem is None and not isinstance(done.uploaded, str):
                # The slots checked by the caller are the ones completed: not read again.
                result = await ex.complete(
                    agent,
                    task_id,
                    attempt,
                    done.specs,
                    now,
                    values=done.values,
                    known=done.uploaded,
                    inline=done.inline,
                )
                problem = result if isinstance(result, str) else None
            elif problem is None and isinstance(done.uploaded, str):
                problem = done.uploaded
            if problem is not None:
                await ex.fail(
                    agent,
                    task_id,
                    attempt,
                    "output_missing",
                    "The agent reported completion but " + problem + ".",
                    now,
                )
        self.db.observer.inline_outputs("refused" if problem else "ok", done.sent)
        return problem

    async def fail(
        self, agent: AgentRef, task_id: str, attempt: int, code: str, message: str, now: datetime
    ) -> None:
        async with self.db.unit() as uow:
            await TaskExecution(uow, self.settings).fail(
                agent, task_id, attempt, code, message, now
            )

    async def cancelled(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        now: datetime,
        *,
        by_runtime: bool,
        message: str,
    ) -> None:
        async with self.db.unit() as uow:
            await TaskExecution(uow, self.settings).cancelled(
                agent, task_id, attempt, now, by_runtime=by_runtime, message=message
            )

    async def release(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> None:
        async with self.db.unit() as uow:
            await TaskExecution(uow, self.settings).release(agent, task_id, attempt, now)


__all__ = [
    "Completion",
    "Idempotency",
    "StaleAttempt",
    "TaskTransitions",
    "queue_full",
]
