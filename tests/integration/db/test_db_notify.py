"""Wake-ups across server processes on PostgreSQL: a change committed through one app's unit of
work wakes the event streams and the dispatcher of another app on the same database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runyard.db.notify import decode, encode
from tests.support.app import make_settings, running_app


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_commit_in_one_process_wakes_another(db_url: str, tmp_path: Path) -> None:
    settings_a = make_settings(db_url, tmp_path / "a")
    settings_b = make_settings(db_url, tmp_path / "b")
    async with (
        running_app(settings_a, background=True) as a,
        running_app(settings_b, background=True) as b,
    ):
        services_a, services_b = a.app.state.services, b.app.state.services
        assert services_b.listener is not None
        await asyncio.wait_for(services_b.listener.connected.wait(), 10)
        woken = services_b.events.subscribe("task-x")
        woken.clear()
        wakes = 0
        original = services_b.dispatcher.wake

        def counting_wake() -> None:
            nonlocal wakes
            wakes += 1
            original()

        services_b.dispatcher.wake = counting_wake  # type: ignore[method-assign]

        async with services_a.db.unit() as uow:
            uow.task_changed("task-x", wake=True)
            assert not woken.is_set()  # nothing before the commit
        await asyncio.wait_for(woken.wait(), 10)
        assert wakes >= 1

        woken.clear()
        with pytest.raises(RuntimeError):
            async with services_a.db.unit() as uow:
                uow.task_changed("task-x")
                raise RuntimeError("rolled back")
        await asyncio.sleep(0.5)
        assert not woken.is_set()  # a rolled-back change wakes nobody


def test_the_payload_names_the_tasks_or_everything() -> None:
    assert decode(encode({"b", "a"}, True)) == ({"a", "b"}, True)
    assert decode(encode(set(), False)) == (set(), False)
    many = {f"{i:036d}" for i in range(500)}
    assert decode(encode(many, False)) == (None, False)
