"""``TaskQueue``: every query on tasks and their outputs and events, in one repository.

The scheduler (dispatcher, reaper), the gateway, the API and retention are policy over these
queries; none of them builds SQL on ``tasks``. Claims and timer locks use ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL so server processes work side by side; SQLite has one writer and ignores
the locking clause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, delete, func, select, text, tuple_, update

from runyard.db.repository import Repository
from runyard.models import Agent, IdempotencyKey, Task, TaskEvent, TaskOutput, WorkflowVersion
from runyard.states import ACTIVE, HELD, SCHEDULABLE, TERMINAL, TaskStatus, sql_list


@dataclass(frozen=True)
class TimerRow:
    """What the reaper needs to decide whether a held task is due, without locking it."""

    id: str
    task_status: TaskStatus
    assigned_at: datetime | None
    started_at: datetime | None
    task_timeout: int
    cancel_requested_at: datetime | None

    @classmethod
    def of(cls, task: Task) -> TimerRow:
        return cls(
            task.id,
            task.task_status,
            task.assigned_at,
            task.started_at,
            task.task_timeout,
            task.cancel_requested_at,
        )


@dataclass(frozen=True)
class TaskFilter:
    """What a task listing may be narrowed by (every field optional)."""

    task_status: TaskStatus | None = None
    workflow_id: str | None = None
    workflow_slug: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class HeldAttempt:
    id: str
    team_id: str
    agent_id: str | None
    attempt: int
    task_status: TaskStatus


# The statements of the hot paths are built once: a statement object computes its cache key
# (a walk of its whole tree) on every execution unless it is reused with bound parameters.
_BY_ID = select(Task).where(Task.id == bindparam("task_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_ACTIVE_COUNT = select(func.count()).select_from(
    select(Task.id)
    .where(Task.team_id == bindparam("team_id"), Task.task_status.in_(ACTIVE))
    .limit(bindparam("up_to", type_=Integer))
    .subquery()
)


def queues_sql(team: str) -> str:
    """The distinct queues of a team's schedulable tasks, skipping from one key to the next (a
    loose scan of ``ix_tasks_schedulable``); ``team`` is the parameter's placeholder (``:name``
    for SQLAlchemy, ``$1`` for the driver)."""
    where = f"team_id = {team} AND task_status IN ({sql_list(SCHEDULABLE)})"
    return f"""
WITH RECURSIVE q(k) AS (
    SELECT (SELECT min(requirement_key) FROM tasks WHERE {where})
    UNION ALL
    SELECT (SELECT min(requirement_key) FROM tasks WHERE {where} AND requirement_key > q.k)
    FROM q WHERE q.k IS NOT NULL
)
SELECT k FROM q WHERE k IS NOT NULL
"""


_QUEUES = text(queues_sql(":team_id"))


class TaskQueue(Repository):
    # -- single tasks ------------------------------------------------------------------------
    async def get(self, team_id: str, task_id: str) -> Task | None:
        task = await self.session.get(Task, task_id)
        return task if task is not None and task.team_id == team_id else None

    async def get_any(self, task_id: str, *, for_update: bool = False) -> Task | None:
        return await self.session.scalar(
            _BY_ID_LOCKED if for_update else _BY_ID, {"task_id": task_id}
        )

    async def is_finished(self, task_id: str) -> bool:
        """Terminal (or gone): no further event will be written for it."""
        status = await self.session.scalar(select(Task.task_status).where(Task.id == task_id))
        return status is None or status in TERMINAL

    async def version_of(self, task: Task) -> WorkflowVersion | None:
        return await self.session.get(WorkflowVersion, (task.workflow_id, task.workflow_version))

    # -- listing and quotas ------------------------------------------------------------------
    async def active_count(self, team_id: str, up_to: int) -> int:
        """The team's unfinished tasks, counted no further than ``up_to`` (a quota check reads
        at most that many index entries, however long the queue)."""
        n = await self.session.scalar(_ACTIVE_COUNT, {"team_id": team_id, "up_to": up_to})
        return int(n or 0)

    async def oldest_schedulable(self) -> datetime | None:
        """When the oldest task still waiting for an agent was created (the queue's wait)."""
        return await self.session.scalar(
            select(func.min(Task.created_at)).where(Task.task_status.in_(SCHEDULABLE))
        )

    async def held_by_agent(self) -> dict[tuple[str, str], int]:
        """Tasks each agent holds (queued or running), keyed by (team, agent), all teams."""
        rows = await self.session.execute(
            select(Task.team_id, Task.agent_id, func.count())
            .where(Task.task_status.in_(HELD), Task.agent_id.is_not(None))
            .group_by(Task.team_id, Task.agent_id)
        )
        return {(str(team), str(agent)): int(n) for team, agent, n in rows.tuples()}

    async def counts_by_status(self) -> dict[TaskStatus, int]:
        rows = await self.session.execute(
            select(Task.task_status, func.count()).group_by(Task.task_status)
        )
        return {TaskStatus(s): int(n) for s, n in rows.tuples()}

    # -- the dispatcher ----------------------------------------------------------------------
    async def schedulable_keys(self, team_id: str) -> list[str]:
        """The queues (``requirement_key``) in which the team has schedulable tasks: a loose
        scan of ``ix_tasks_schedulable``, one index probe per queue however long each is."""
        rows = await self.session.execute(_QUEUES, {"team_id": team_id})
        return [str(k) for (k,) in rows.tuples()]

    async def claim_schedulable(
        self, team_id: str, key: str, limit: int, *, after: tuple[datetime, str] | None = None
    ) -> list[Task]:
        """The first schedulable tasks of one of the team's queues in rank order (after
        ``after``, the (rank_at, id) of the previous page), locked; rows another process holds
        are skipped."""
        where: list[Any] = [
            Task.team_id == team_id,
            Task.requirement_key == key,
            Task.task_status.in_(SCHEDULABLE),
        ]
        if after is not None:
            where.append(tuple_(Task.rank_at, Task.id) > tuple_(*after))
        rows = await self.session.scalars(
            select(Task)
            .where(*where)
            .order_by(Task.rank_at, Task.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def claim_pending(self, created_before: datetime, limit: int) -> list[Task]:
        """Pending tasks of every team created before ``created_before``, locked, to judge
        ``waiting`` when nobody can run them. Fresh tasks are left to the process whose agents
        may claim them: locking them here would make that process skip them until its poll."""
        rows = await self.session.scalars(
            select(Task)
            .where(Task.task_status == TaskStatus.PENDING, Task.created_at < created_before)
            .order_by(Task.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def ahead_of(self, task: Task) -> int:
        """How many schedulable tasks of ``task``'s queue the dispatcher takes before it (the
        order of ``claim_schedulable``: rank, then id), for a waiting task's queue position."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Task)
            .where(
                Task.team_id == task.team_id,
                Task.requirement_key == task.requirement_key,
                Task.task_status.in_(SCHEDULABLE),
                tuple_(Task.rank_at, Task.id) < tuple_(task.rank_at, task.id),
            )
        )
        return int(count or 0)

    # -- agents holding tasks ----------------------------------------------------------------
    async def held_by(self, team_id: str, agent_id: str, *, lock: bool = False) -> list[Task]:
        stmt = select(Task).where(
            Task.team_id == team_id, Task.agent_id == agent_id, Task.task_status.in_(HELD)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(await self.session.scalars(stmt))

    async def attempts_of(self, task_ids: Iterable[str]) -> list[HeldAttempt]:
        ids = list(task_ids)
        if not ids:
            return []
        rows = await self.session.execute(
            select(Task.id, Task.team_id, Task.agent_id, Task.attempt, Task.task_status).where(
                Task.id.in_(ids)
            )
        )
        return [HeldAttempt(*r) for r in rows.tuples()]

    async def silent_holders(self, before: datetime) -> list[Agent]:
        """Agents whose last heartbeat is older than ``before`` and that still hold tasks."""
        holding = (
            select(Task.id)
            .where(
                Task.team_id == Agent.team_id,
                Task.agent_id == Agent.agent_id,
                Task.task_status.in_(HELD),
            )
            .exists()
        )
        return list(
            await self.session.scalars(select(Agent).where(Agent.last_heartbeat < before, holding))
        )

    # -- the reaper ----------------------------------------------------------------------------
    async def timer_candidates(self) -> list[TimerRow]:
        """A light unlocked scan of held tasks; the reaper locks only those that are due."""
        rows = await self.session.execute(
            select(
                Task.id,
                Task.task_status,
                Task.assigned_at,
                Task.started_at,
                Task.task_timeout,
                Task.cancel_requested_at,
            ).where(Task.task_status.in_(HELD))
        )
        return [TimerRow(*r) for r in rows.tuples()]

    async def lock(self, task_ids: Iterable[str]) -> list[Task]:
        ids = list(task_ids)
        if not ids:
            return []
        rows = await self.session.scalars(
            select(Task).where(Task.id.in_(ids)).with_for_update(skip_locked=True)
        )
        return list(rows)

    async def cancel_requested(self) -> list[HeldAttempt]:
        """Running tasks with a cancel requested (possibly through another server process)."""
        rows = await self.session.execute(
            select(Task.id, Task.team_id, Task.agent_id, Task.attempt, Task.task_status).where(
                Task.task_status == TaskStatus.RUNNING, Task.cancel_requested_at.is_not(None)
            )
        )
        return [HeldAttempt(*r) for r in rows.tuples()]

    # -- outputs and events --------------------------------------------------------------------
    async def outputs(
        self, task_id: str, attempt: int, status: str | None = None
    ) -> list[TaskOutput]:
        where: list[Any] = [TaskOutput.task_id == task_id, TaskOutput.attempt == attempt]
        if status:
            where.append(TaskOutput.output_status == status)
        rows = await self.session.scalars(
            select(TaskOutput).where(*where).order_by(TaskOutput.position)
        )
        return list(rows)

    async def finalise_outputs(
        self,
        task_id: str,
        attempt: int,
        positions: list[tuple[int, str, str | None]],
        expires_at: datetime | None,
    ) -> None:
        """The completed attempt's uploaded outputs become results at their positions in the
        result, (position, output_id, sha256) (one statement, run once per output, without
        loading the rows)."""
        table = cast(Table, TaskOutput.__table__)
        stmt = (
            update(table)
            .where(
                table.c.task_id == task_id,
                table.c.attempt == attempt,
                table.c.output_id == bindparam("oid"),
            )
            .values(
                output_status="final",
                position=bindparam("pos"),
                sha256=bindparam("sha"),
                expires_at=expires_at,
            )
        )
        if positions:
            await self.session.execute(
                stmt, [{"oid": oid, "pos": i, "sha": sha} for i, oid, sha in positions]
            )

    async def events_after(self, task_id: str, after_seq: int, limit: int = 500) -> list[TaskEvent]:
        rows = await self.session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == task_id, TaskEvent.seq > after_seq)
            .order_by(TaskEvent.seq)
            .limit(limit)
        )
        return list(rows)

    async def expired_outputs(self, now: datetime, limit: int) -> list[TaskOutput]:
        rows = await self.session.scalars(
            select(TaskOutput)
            .where(TaskOutput.output_status == "final", TaskOutput.expires_at <= now)
            .limit(limit)
        )
        return list(rows)

    async def stray_outputs(self, before: datetime, limit: int) -> list[TaskOutput]:
        """Output slots of attempts that never completed (dead agents' uploads)."""
        rows = await self.session.scalars(
            select(TaskOutput)
            .join(Task, Task.id == TaskOutput.task_id)
            .where(
                TaskOutput.output_status == "granted",
                TaskOutput.created_at <= before,
                (Task.attempt != TaskOutput.attempt) | Task.task_status.in_(TERMINAL),
            )
            .limit(limit)
        )
        return list(rows)

    async def mark_outputs(self, ids: list[str], status: str) -> None:
        if ids:
            await self.session.execute(
                update(TaskOutput).where(TaskOutput.id.in_(ids)).values(output_status=status)
            )

    async def prune_events(self, before: datetime) -> None:
        """The event log of finished tasks, once older than its retention."""
        finished = select(Task.id).where(Task.task_status.in_(TERMINAL))
        await self.session.execute(
            delete(TaskEvent).where(TaskEvent.created_at < before, TaskEvent.task_id.in_(finished))
        )

    # -- idempotency -----------------------------------------------------------------------------
    async def idempotency(self, team_id: str, key: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (team_id, key))

    async def delete_idempotency(self, team_id: str, key: str) -> None:
        row = await self.idempotency(team_id, key)
        if row is not None:
            await self.session.delete(row)

    async def prune_idempotency(self, before: datetime) -> None:
        await self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
