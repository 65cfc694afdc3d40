"""Event streams when the process stops (issue 15, defect 4): ``begin_shutdown`` ends every
open stream with a reconnect frame, and a stream opened while stopping ends with it at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runyard.events.repository import EventLog, EventRow
from runyard.events.stream import RECONNECT
from tests.integration.api.test_tasks import new_task
from tests.support.app import Harness, Team


async def test_shutdown_ends_open_streams_with_a_reconnect_frame(
    harness: Harness, team_a: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await new_task(harness, team_a)
    url = f"/api/v1/r/tasks/{task_id}/events"
    headers = team_a.auth("integration")
    reads = 0
    read_events = EventLog.after

    async def counted(self: EventLog, *args: Any, **kwargs: Any) -> list[EventRow]:
        nonlocal reads
        reads += 1
        return await read_events(self, *args, **kwargs)

    monkeypatch.setattr(EventLog, "after", counted)
    harness.settings.events.safety_poll = 0.05  # the feed reads again soon after the history
    following = asyncio.create_task(harness.client.get(url, headers=headers))
    # A second read of the log means the first one's history was handed to the stream (a fixed
    # sleep raced a loaded machine).
    for _ in range(200):
        if reads >= 2:
            break
        await asyncio.sleep(0.05)
    assert reads >= 2
    assert not following.done()  # a pending task's stream stays open
    await harness.app.state.services.begin_shutdown()
    body = (await asyncio.wait_for(following, 10)).text
    assert body.startswith("retry: 2000\n\n")
    assert '"task_status":"pending"' in body  # the history came first
    assert body.endswith(RECONNECT)
    assert "event: reconnect" in RECONNECT and "retry: " in RECONNECT and "id:" not in RECONNECT
    late = await asyncio.wait_for(harness.client.get(url, headers=headers), 10)
    assert late.status_code == 200 and late.text == "retry: 2000\n\n" + RECONNECT
