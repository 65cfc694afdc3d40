"""The task state machine of contract section 3. Terminal states never change."""

from __future__ import annotations

from typing import Literal

TaskStatus = Literal["pending", "waiting", "queued", "running", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"pending", "waiting", "queued", "running"})
SCHEDULABLE: frozenset[str] = frozenset({"pending", "waiting"})

ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"waiting", "queued", "failed", "cancelled"}),
    "waiting": frozenset({"pending", "queued", "failed", "cancelled"}),
    "queued": frozenset({"pending", "waiting", "running", "failed", "cancelled", "queued"}),
    "running": frozenset({"pending", "waiting", "queued", "completed", "failed", "cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())
