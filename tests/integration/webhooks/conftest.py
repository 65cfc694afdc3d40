"""Delivery tests: the app with a webhook policy that lets a local receiver (http, 127.0.0.1)
in, a short retry schedule without jitter, and the delivery worker driven by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runyard.settings import WebhookSettings
from tests.support.app import Harness, make_settings, running_app

SCHEDULE = [0.0, 1.0, 1.0, 1.0, 1.0]


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    webhook = WebhookSettings(
        allow_private=True,
        allow_http=True,
        retry_schedule=SCHEDULE,
        retry_jitter=0.0,
        timeout=3.0,
        poll_interval=30.0,  # only a wake-up (or a test) makes the worker run
    )
    async with running_app(make_settings(db_url, tmp_path / "data", webhook=webhook)) as h:
        yield h
