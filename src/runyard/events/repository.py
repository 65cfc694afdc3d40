"""Reads of the event log for many open streams at once (``events.feed``): one statement for
the status of a set of tasks, one for the events after each task's cursor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select

from runyard.db.repository import Repository
from runyard.models import Task, TaskEvent
from runyard.states import TaskStatus


class EventRow(NamedTuple):
    task_id: str
    seq: int
    event: str
    data: Any


class EventLog(Repository):
    async def statuses(self, task_ids: list[str]) -> dict[str, TaskStatus]:
        """The status of each task that still exists."""
        rows = await self.session.execute(
            select(Task.id, Task.task_status).where(Task.id.in_(task_ids))
        )
        return {task_id: status for task_id, status in rows.tuples()}

    async def of_kind(self, task_id: str, event: str) -> list[dict[str, Any]]:
        """The data of one task's events of one kind, in order."""
        rows = await self.session.execute(
            select(TaskEvent.data)
            .where(TaskEvent.task_id == task_id, TaskEvent.event == event)
            .order_by(TaskEvent.seq)
        )
        return [dict(data) for data in rows.scalars()]

    async def after(self, cursors: Mapping[str, int], limit: int) -> list[EventRow]:
        """The events of each task after its cursor, ordered by task then ``seq``; at most
        ``limit`` rows (the caller reads again from where a full answer stopped)."""
        wanted = [and_(TaskEvent.task_id == t, TaskEvent.seq > c) for t, c in cursors.items()]
        rows = await self.session.execute(
            select(TaskEvent.task_id, TaskEvent.seq, TaskEvent.event, TaskEvent.data)
            .where(or_(*wanted))
            .order_by(TaskEvent.task_id, TaskEvent.seq)
            .limit(limit)
        )
        return [EventRow(*r) for r in rows.tuples()]
