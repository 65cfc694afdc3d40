"""The task state machine of contract section 3, typed, and what a task needs and its rank in
the queue. Below `models` and every domain: a leaf module. Terminal states never change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "pending"
    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = TaskStatus
TERMINAL: frozenset[TaskStatus] = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
ACTIVE: frozenset[TaskStatus] = frozenset({S.PENDING, S.WAITING, S.QUEUED, S.RUNNING})
SCHEDULABLE: frozenset[TaskStatus] = frozenset({S.PENDING, S.WAITING})
#: Assigned to an agent (queued: sent, not yet acknowledged; running: acknowledged).
HELD: frozenset[TaskStatus] = frozenset({S.QUEUED, S.RUNNING})

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PENDING: frozenset({S.WAITING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.WAITING: frozenset({S.PENDING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.PENDING, S.WAITING, S.RUNNING, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.RUNNING: frozenset({S.PENDING, S.WAITING, S.QUEUED, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_move(current: TaskStatus, target: TaskStatus) -> bool:
    return target in ALLOWED[current]


def sql_list(statuses: frozenset[TaskStatus]) -> str:
    """``statuses`` as the list of an SQL ``IN (…)`` (for the statements written by hand in
    ``tasks/direct.py`` and ``scheduler/direct.py``, so they follow these sets)."""
    return ", ".join(f"'{s.value}'" for s in sorted(statuses))


# -- what a task needs, and its rank in the queue -----------------------------------------------

PRIORITY_MIN, PRIORITY_MAX = -10, 10
#: Aging: a task of priority ``p`` is ranked as if it had been submitted ``p`` steps earlier, so
#: a higher priority goes first unless the other task has waited longer than the difference in
#: steps. Bound: a task is never overtaken by one submitted more than
#: ``(PRIORITY_MAX - PRIORITY_MIN) × PRIORITY_STEP`` (20 minutes) after it.
PRIORITY_STEP = timedelta(seconds=60)


def rank_at(created_at: datetime, priority: int) -> datetime:
    """The instant a task is ranked at in its queue (earliest first)."""
    return created_at - priority * PRIORITY_STEP


def requirement_key(tool_type: str, labels: Iterable[str]) -> str:
    """The queue a task waits in: its tool type and its required labels, sorted. The
    dispatcher claims only from queues some free agent can serve, so tasks nobody can take
    never hide the ones somebody can."""
    return f"{tool_type}|{','.join(sorted(set(labels)))}"


def parse_requirement_key(key: str) -> tuple[str, frozenset[str]]:
    tool, _, labels = key.partition("|")
    return tool, frozenset(x for x in labels.split(",") if x)
