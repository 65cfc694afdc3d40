"""The retry schedule: exponential backoff with jitter, for more than a day by default.

``schedule[n]`` is the delay before attempt ``n + 1`` (the first entry delays the first
attempt; the default's is 0). Jitter only lengthens a delay, so the schedule's sum is the
least time a delivery keeps being retried."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def jittered(delay: float, jitter: float, rng: random.Random | None = None) -> float:
    """``delay`` lengthened by a random fraction in ``[0, jitter)``."""
    return delay * (1.0 + (rng or random).random() * jitter)


def next_attempt_at(
    now: datetime,
    attempts_made: int,
    schedule: list[float],
    jitter: float,
    rng: random.Random | None = None,
) -> datetime | None:
    """When attempt ``attempts_made + 1`` is due, or None when the schedule is used up."""
    if attempts_made >= len(schedule):
        return None
    return now + timedelta(seconds=jittered(schedule[attempts_made], jitter, rng))


def retry_window(schedule: list[float]) -> float:
    """Seconds from the event to the last attempt, without jitter."""
    return float(sum(schedule))
