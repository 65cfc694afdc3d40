"""Wake-ups across server processes on PostgreSQL: a change committed through one app's unit of
work wakes the event streams and the dispatcher of another app on the same database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runyard.db.notify import Listener, decode, encode
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
        assert services_a.listener is not None and services_b.listener is not None
        await asyncio.wait_for(services_a.listener.connected.wait(), 10)
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

        # Units committed in the same burst are announced together, and each task is heard.
        streams = {f"burst-{i}": services_b.events.subscribe(f"burst-{i}") for i in range(20)}
        for stream in streams.values():
            stream.clear()
        before = services_a.listener.announced

        async def change(task_id: str) -> None:
            async with services_a.db.unit() as uow:
                uow.task_changed(task_id)

        await asyncio.gather(*(change(task_id) for task_id in streams))
        await asyncio.wait_for(asyncio.gather(*(s.wait() for s in streams.values())), 10)
        assert services_a.listener.announced - before < len(streams)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_process_ignores_its_own_announcements(db_url: str, tmp_path: Path) -> None:
    async with running_app(make_settings(db_url, tmp_path / "a"), background=True) as a:
        services = a.app.state.services
        assert services.listener is not None
        await asyncio.wait_for(services.listener.connected.wait(), 10)
        heard: list[object] = []
        original = services.events.publish

        def recording(task_ids: set[str]) -> None:
            heard.append(set(task_ids))
            original(task_ids)

        services.events.publish = recording  # type: ignore[method-assign]
        async with services.db.unit() as uow:
            uow.task_changed("task-own")
        for _ in range(250):
            if services.listener.announced:
                break
            await asyncio.sleep(0.02)
        assert services.listener.announced == 1  # sent to the other processes
        await asyncio.sleep(0.3)  # had we listened to ourselves, it would be back by now
        assert heard == [{"task-own"}]  # woken once, at commit; not again by the notification


def test_the_payload_names_the_tasks_or_everything() -> None:
    assert decode(encode({"b", "a"}, True)) == ({"a", "b"}, True)
    assert decode(encode(set(), False)) == (set(), False)
    many = {f"{i:036d}" for i in range(500)}
    assert decode(encode(many, False)) == (None, False)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_changes_announced_while_one_is_on_the_wire_follow_it(
    db_url: str, tmp_path: Path
) -> None:
    async with (
        running_app(make_settings(db_url, tmp_path / "a"), background=True) as a,
        running_app(make_settings(db_url, tmp_path / "b"), background=True) as b,
    ):
        listener_a, events_b = a.app.state.services.listener, b.app.state.services.events
        await asyncio.wait_for(listener_a.connected.wait(), 10)
        await asyncio.wait_for(b.app.state.services.listener.connected.wait(), 10)
        first, second = events_b.subscribe("first"), events_b.subscribe("second")
        first.clear()
        second.clear()
        listener_a.announce({"first"}, False)
        for _ in range(3):  # the burst is taken and its pg_notify is on the wire
            await asyncio.sleep(0)
        listener_a.announce({"second"}, False)
        await asyncio.wait_for(first.wait(), 10)
        await asyncio.wait_for(second.wait(), 10)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_library_and_task_notices_sent_together_are_all_heard(db_url: str) -> None:
    """Both kinds of notice go out on the one LISTEN connection, which runs one statement at a
    time: a notice sent while another was on the wire used to fail and be dropped (a library
    change, which nobody polls for, then never reached the other process's agents)."""
    teams: list[str] = []
    tasks: set[str] = set()
    arrived = asyncio.Event()

    def on_library(team_id: str) -> None:
        if team_id != "*":  # the set re-sent to every team when a listener (re)connects
            teams.append(team_id)
            arrived.set()

    def on_notify(ids: set[str] | None, _wake: bool) -> None:
        tasks.update(ids or ())

    sender = Listener(db_url, lambda _ids, _wake: None)
    receiver = Listener(db_url, on_notify, on_library)
    sender.start()
    receiver.start()
    try:
        await asyncio.wait_for(sender.connected.wait(), 10)
        await asyncio.wait_for(receiver.connected.wait(), 10)
        for round_ in range(6):
            sender.announce({f"task-{round_}"}, True)
            for _ in range(round_ % 3):  # the task notice already on the wire, or not yet
                await asyncio.sleep(0)
            sender.announce_library(f"team-{round_}")
            await asyncio.wait_for(arrived.wait(), 10)
            arrived.clear()
        await asyncio.sleep(0.3)
        assert teams == [f"team-{i}" for i in range(6)]
        assert tasks == {f"task-{i}" for i in range(6)}
    finally:
        await sender.stop()
        await receiver.stop()
