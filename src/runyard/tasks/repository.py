from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import IdempotencyKey, Task, TaskEvent, TaskOutput
from runyard.tasks.states import ACTIVE, TERMINAL


class TaskRepository(Repository):
    async def get(self, team_id: str, task_id: str) -> Task | None:
        task = await self.session.get(Task, task_id)
        return task if task is not None and task.team_id == team_id else None

    async def get_any(self, task_id: str, *, for_update: bool = False) -> Task | None:
        stmt = select(Task).where(Task.id == task_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def is_finished(self, task_id: str) -> bool:
        """Terminal (or gone): no further event will be written for it."""
        status = await self.session.scalar(select(Task.task_status).where(Task.id == task_id))
        return status is None or status in TERMINAL

    async def page(
        self, team_id: str, status: str | None, offset: int, limit: int
    ) -> tuple[list[Task], int]:
        where: list[Any] = [Task.team_id == team_id]
        if status:
            where.append(Task.task_status == status)
        total = await self.session.scalar(select(func.count()).select_from(Task).where(*where))
        rows = await self.session.scalars(
            select(Task)
            .where(*where)
            .order_by(Task.created_at.desc(), Task.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def active_count(self, team_id: str) -> int:
        n = await self.session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.team_id == team_id, Task.task_status.in_(ACTIVE))
        )
        return int(n or 0)

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

    async def events_after(self, task_id: str, after_seq: int, limit: int = 500) -> list[TaskEvent]:
        rows = await self.session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == task_id, TaskEvent.seq > after_seq)
            .order_by(TaskEvent.seq)
            .limit(limit)
        )
        return list(rows)

    async def idempotency(self, team_id: str, key: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (team_id, key))

    async def delete_idempotency(self, team_id: str, key: str) -> None:
        row = await self.idempotency(team_id, key)
        if row is not None:
            await self.session.delete(row)

    async def stale_idempotency(self, team_id: str, key: str, before: datetime) -> bool:
        row = await self.idempotency(team_id, key)
        return row is not None and row.created_at < before
