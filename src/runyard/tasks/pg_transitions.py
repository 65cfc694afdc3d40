"""``PostgresTransitions``: the common case of each transition in one statement
(``pg_statements.py``), sent through the driver; whenever a statement changes nothing (another
attempt or agent, another state, a completion implying its ack, a team with webhooks, whose
outbox rows the general path writes), the general implementation decides and answers exactly
as before. It only ever applies what the general one would have applied, with the same event
log and the same wake-ups after it (``tests/integration/api/test_transitions_differential.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from runyard.db.engine import Database, unreachable_as_operational
from runyard.db.unit import UnitOfWork
from runyard.models import Task
from runyard.tasks import lifecycle, pg_statements
from runyard.tasks.execution import AgentRef, matching
from runyard.tasks.schemas import TaskOutputBody
from runyard.tasks.transitions import Completion, Idempotency, TaskTransitions, queue_full


class PostgresTransitions(TaskTransitions):
    async def create(self, uow: UnitOfWork, task: Task, *, idempotency: Idempotency | None) -> bool:
        # One statement inside the request's transaction: the cap (when it must be counted),
        # the key, the task and its first event.
        count = self.cap.must_count(task.team_id)
        with unreachable_as_operational():
            created, active = await pg_statements.create(
                await Database.driver_of(uow.session),
                task,
                self.cap.cap if count else None,
                idempotency.key if idempotency else None,
                idempotency.digest if idempotency else None,
            )
        if active is not None:
            self.cap.counted(task.team_id, active)
            if active >= self.cap.cap:
                raise queue_full(self.cap.cap)
        if created:
            self.cap.admitted(task.team_id)
            uow.task_changed(task.id, wake=True)
        return created

    def joins_runs(self, frames: int, grants: int) -> bool:
        # Each ack and progress report is one statement here, cheaper than a unit for the run;
        # output-URL requests still share one.
        return frames > 1 and grants > 0

    async def ack(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> None:
        async with self.db.driver() as pg:
            applied, assigned_at = await pg_statements.ack(pg, agent, task_id, attempt, now)
        if not applied:
            await super().ack(agent, task_id, attempt, now)
            return
        self.db.observer.task_started(assigned_at, now)
        self.db.wakeups.tasks_changed({task_id}, False)

    async def progress(
        self, agent: AgentRef, task_id: str, attempt: int, now: datetime, report: lifecycle.Report
    ) -> None:
        async with self.db.driver() as pg:
            applied = await pg_statements.progress(
                pg, agent, task_id, attempt, now, report.clamped, report.event_data()
            )
        if not applied:
            await super().progress(agent, task_id, attempt, now, report)
            return
        self.db.wakeups.tasks_changed({task_id}, False)

    async def complete(
        self, agent: AgentRef, task_id: str, attempt: int, now: datetime, done: Completion
    ) -> str | None:
        if done.problem is None and not isinstance(done.uploaded, str):
            slots = matching([*done.uploaded, *done.inline], done.specs)
            if not isinstance(slots, str):
                body = TaskOutputBody.of(slots, done.values).model_dump(exclude_defaults=True)
                body.setdefault("outputs", [])
                new = {slot.output_id for slot in done.inline}
                positions = list(enumerate(slots))
                expires = now + timedelta(seconds=self.settings.retention.outputs)
                async with self.db.driver() as pg:
                    applied = await pg_statements.complete(
                        pg,
                        agent,
                        task_id,
                        attempt,
                        now,
                        expires,
                        body=body,
                        values=done.values,
                        added=[(i, s) for i, s in positions if s.output_id in new],
                        kept=[(i, s) for i, s in positions if s.output_id not in new],
                    )
                if applied:
                    self.db.wakeups.tasks_changed({task_id}, True)
                    self.db.observer.inline_outputs("ok", done.sent)
                    return None
        return await super().complete(agent, task_id, attempt, now, done)
