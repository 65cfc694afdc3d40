"""The one hook through which transitions are observed (the metrics of ``runyard.metrics``
implement it): both implementations of ``tasks.transitions`` call it, so neither ``tasks`` nor
the scheduler imports the metrics, and the metrics import nothing that moves a task."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TransitionObserver(Protocol):
    def task_queued(self, created_at: datetime | None, now: datetime) -> None:
        """An attempt was assigned to an agent (submitted at ``created_at``)."""

    def task_started(self, assigned_at: datetime | None, now: datetime) -> None:
        """An agent acknowledged an attempt assigned at ``assigned_at``."""

    def inline_outputs(self, result: str, count: int) -> None:
        """``count`` outputs sent inside a completion were stored (``ok``) or refused."""


class NoObserver:
    def task_queued(self, created_at: datetime | None, now: datetime) -> None:
        return None

    def task_started(self, assigned_at: datetime | None, now: datetime) -> None:
        return None

    def inline_outputs(self, result: str, count: int) -> None:
        return None
