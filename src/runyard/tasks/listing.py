"""The task list at a cost that does not grow with the team's history.

- The total is counted only up to ``EXACT_UP_TO`` matching tasks (an index range read of at most
  that many entries); past it, ``page_meta.total_count`` is ``EXACT_UP_TO + 1`` and
  ``page_meta.total_exact`` is false: "more than 1,000".
- Deep pages: ``offset`` still works, but costs the rows it skips; ``cursor`` (the
  ``page_meta.next_cursor`` of the page before) continues after the last task of that page with
  an index seek on ``(team_id, created_at)``, whatever the depth."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from runyard.db.repository import Repository
from runyard.errors import BadRequest
from runyard.models import Task
from runyard.tasks.repository import TaskFilter

EXACT_UP_TO = 1000


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the creation time and id of its last (oldest) task."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            padded = value + "=" * (-len(value) % 4)
            at, task_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            when = datetime.fromisoformat(at)
            if not isinstance(task_id, str) or when.tzinfo is None:
                raise ValueError(value)
            return cls(when, task_id)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest(
                "`cursor` must be the page_meta.next_cursor of an earlier page of this list; "
                "drop it to start from the newest task.",
                code="invalid_request",
            ) from exc


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    total: int
    exact: bool
    next_cursor: str | None


class TaskListing(Repository):
    async def page(
        self, team_id: str, wanted: TaskFilter, offset: int, limit: int, after: Cursor | None
    ) -> TaskPage:
        where = _where(team_id, wanted)
        counted = select(Task.id).where(*where).limit(EXACT_UP_TO + 1).subquery()
        total = int(await self.session.scalar(select(func.count()).select_from(counted)) or 0)
        query = select(Task).where(*where)
        if after is not None:
            query = query.where(
                or_(
                    Task.created_at < after.created_at,
                    and_(Task.created_at == after.created_at, Task.id < after.id),
                )
            )
        else:
            query = query.offset(offset)
        rows = list(
            await self.session.scalars(
                query.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = Cursor(rows[-1].created_at, rows[-1].id).encode() if more and rows else None
        return TaskPage(rows, total, total <= EXACT_UP_TO, cursor)


def _where(team_id: str, wanted: TaskFilter) -> list[Any]:
    where: list[Any] = [Task.team_id == team_id]
    if wanted.task_status:
        where.append(Task.task_status == wanted.task_status)
    if wanted.workflow_id:
        where.append(Task.workflow_id == wanted.workflow_id)
    if wanted.workflow_slug:
        where.append(Task.workflow_slug == wanted.workflow_slug)
    if wanted.created_after is not None:
        where.append(Task.created_at >= wanted.created_after)
    if wanted.created_before is not None:
        where.append(Task.created_at < wanted.created_before)
    return where
