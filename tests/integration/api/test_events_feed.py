"""One event fan-out per process (issue 34): open streams do not poll the event log; the
process's feed reads it once per wake for every stream of a task, hears changes committed by
another server process (PostgreSQL LISTEN), and finds a change nobody announced on its slow
safety poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from runyard.auth.principal import Principal
from runyard.db.engine import Database
from runyard.events import feed as feed_module
from runyard.models import ApiKey
from runyard.tasks import lifecycle
from runyard.tasks.repository import TaskQueue
from tests.integration.api.test_tasks import cancel, new_task
from tests.support.app import Harness, Team, make_settings, running_app
from tests.support.statements import counting_reads

STREAMS = 50


def follow(client: httpx.AsyncClient, team: Team, task_id: str) -> asyncio.Task[httpx.Response]:
    url = f"/api/v1/r/tasks/{task_id}/events"
    return asyncio.create_task(client.get(url, headers=team.auth("integration")))


async def until(check: object, limit: float = 20) -> None:
    """Wait (bounded, so a defect fails instead of hanging) until ``check()`` is true."""
    assert callable(check)
    for _ in range(int(limit / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_many_streams_of_one_task_cost_one_read_per_wake(
    harness: Harness, team_a: Team
) -> None:
    feed = harness.app.state.services.feed
    harness.settings.events.safety_poll = 600  # only the wake-up may read
    harness.settings.events.poll_interval = 600
    task_id = await new_task(harness, team_a)
    streams = [follow(harness.client, team_a, task_id) for _ in range(STREAMS)]
    # Every stream subscribed and was handed the history (its first event at least).
    await until(lambda: len(feed.cursors(task_id)) == STREAMS and min(feed.cursors(task_id)) > 0)
    sessions = feed.reads
    with counting_reads(harness.app.state.services.db.engine, "task_events") as reads:
        await cancel(harness, team_a, task_id)
        bodies = [r.text for r in await asyncio.wait_for(asyncio.gather(*streams), 20)]
    assert all(b.rstrip().split("\n")[-2] == "event: cancelled" for b in bodies)
    assert all(b == bodies[0] for b in bodies)  # each stream got the whole history once
    assert feed.reads - sessions == 1  # one session for fifty streams
    assert reads.count == 1  # and one statement on the event log in it


async def test_a_full_answer_is_continued_without_a_gap(
    harness: Harness, team_a: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await new_task(harness, team_a)
    second = await new_task(harness, team_a)
    await cancel(harness, team_a, first)
    await cancel(harness, team_a, second)
    whole = {t: (await follow(harness.client, team_a, t)).text for t in (first, second)}
    monkeypatch.setattr(feed_module, "ROWS", 1)  # every read stops after one event
    again = await asyncio.gather(*(follow(harness.client, team_a, t) for t in (first, second)))
    assert [r.text for r in again] == [whole[first], whole[second]]
    assert whole[first].count("event: status") >= 1


async def test_a_change_nobody_announced_is_found_by_the_safety_poll(
    harness: Harness, team_a: Team
) -> None:
    feed = harness.app.state.services.feed
    feed.fed = lambda: True  # every change of this process's would wake it ...
    harness.settings.events.poll_interval = 600
    harness.settings.events.safety_poll = 0.2  # ... so only the safety poll can find this one
    task_id = await new_task(harness, team_a)
    stream = follow(harness.client, team_a, task_id)
    await until(lambda: feed.cursors(task_id) and min(feed.cursors(task_id)) > 0)
    silent = Database(harness.settings.db)  # its commits wake nobody (a lost notification)
    try:
        async with silent.unit() as uow:
            (task,) = await TaskQueue(uow.session).lock([task_id])
            lifecycle.cancel(uow, task, harness.clock.now())
    finally:
        await silent.dispose()
    body = (await asyncio.wait_for(stream, 20)).text
    assert "event: cancelled" in body


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_change_committed_by_another_process_reaches_open_streams(
    db_url: str, tmp_path: Path
) -> None:
    settings_a = make_settings(db_url, tmp_path / "a")
    settings_b = make_settings(db_url, tmp_path / "b")
    settings_b.events.safety_poll = 600  # only the notification can bring the change
    settings_b.events.poll_interval = 600
    async with (
        running_app(settings_a, background=True) as a,
        running_app(settings_b, background=True) as b,
    ):
        listener = b.app.state.services.listener
        assert listener is not None
        await asyncio.wait_for(listener.connected.wait(), 10)
        team = await a.team("alpha", "alice@example.com")
        task_id = await new_task(a, team)
        feed = b.app.state.services.feed
        streams = [follow(b.client, team, task_id) for _ in range(3)]
        await until(lambda: len(feed.cursors(task_id)) == 3 and min(feed.cursors(task_id)) > 0)
        await cancel(a, team, task_id)  # committed by the other process
        bodies = [r.text for r in await asyncio.wait_for(asyncio.gather(*streams), 20)]
        assert all("event: cancelled" in body for body in bodies)


async def test_the_streams_of_one_key_share_its_recheck(harness: Harness, team_a: Team) -> None:
    checks = harness.app.state.services.feed.credentials
    async with harness.app.state.services.db.session() as session:
        key = await session.scalar(
            select(ApiKey).where(ApiKey.team_id == team_a.id, ApiKey.kind == "integration")
        )
    assert key is not None
    principal = Principal(kind="integration", team_id=team_a.id, key_id=key.id)
    before = checks.reads
    answers = await asyncio.gather(*(checks.allowed(principal) for _ in range(STREAMS)))
    assert all(answers)
    assert checks.reads - before == 1  # fifty streams, one read
    async with harness.app.state.services.db.unit() as uow:
        revoked = await uow.session.get(ApiKey, key.id)
        assert revoked is not None
        revoked.revoked_at = harness.clock.now()
    checks.fresh_for = 0  # the shared answer is old: the next recheck reads again
    assert not await checks.allowed(principal)
