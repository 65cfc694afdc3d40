"""The retry schedule: exponential backoff, jitter only lengthening, more than a day."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from runyard.settings import WebhookSettings
from runyard.webhooks.retries import jittered, next_attempt_at, retry_window

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def test_the_default_schedule_retries_for_more_than_a_day_with_backoff() -> None:
    schedule = WebhookSettings().retry_schedule
    assert schedule[0] == 0  # the first attempt goes out at once
    assert retry_window(schedule) >= 24 * 3600
    delays = schedule[1:]
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] / delays[0] >= 1000  # exponential-ish, capped


def test_jitter_lengthens_within_bounds_and_varies() -> None:
    rng = random.Random(7)
    values = [jittered(100.0, 0.2, rng) for _ in range(200)]
    assert all(100.0 <= v < 120.0 for v in values)
    assert len({round(v, 3) for v in values}) > 100
    assert jittered(100.0, 0.0, rng) == 100.0


def test_next_attempt_follows_the_schedule_then_stops() -> None:
    schedule = [0.0, 5.0, 60.0]
    rng = random.Random(1)
    assert next_attempt_at(NOW, 1, schedule, 0.0, rng) == NOW + timedelta(seconds=5)
    assert next_attempt_at(NOW, 2, schedule, 0.0, rng) == NOW + timedelta(seconds=60)
    assert next_attempt_at(NOW, 3, schedule, 0.0, rng) is None
    later = next_attempt_at(NOW, 2, schedule, 0.5, rng)
    assert later is not None and NOW + timedelta(seconds=60) <= later < NOW + timedelta(seconds=90)


def test_the_schedule_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_WEBHOOK_RETRY_SCHEDULE", "[1, 2, 3]")
    assert WebhookSettings().retry_schedule == [1.0, 2.0, 3.0]
    monkeypatch.setenv("RUNYARD_WEBHOOK_RETRY_SCHEDULE", "[1, -2]")
    with pytest.raises(ValueError):
        WebhookSettings()
