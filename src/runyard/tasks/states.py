"""The task state machine of contract section 3, typed. Terminal states never change."""

from __future__ import annotations

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
