"""The clock seam: services ask ``Clock.now()`` so tests can move time (retention, expiry)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from runyard.db.base import utcnow


def iso_z(dt: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, the contract's timestamp format."""
    return dt.isoformat().replace("+00:00", "Z")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class OffsetClock:
    """The system clock shifted by an adjustable offset (tests move it forward)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)
