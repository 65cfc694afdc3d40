"""Dispatch, ack timeout, task timeout, cancel grace, lost agents and retry-or-fail, driven by a
fake clock over the real queue (SQLite in memory): each rule in milliseconds, no sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runyard.states import TaskStatus
from runyard.tasks.execution import AgentRef, TaskExecution
from runyard.tasks.repository import TaskQueue
from tests.unit.scheduler.conftest import World

S = TaskStatus


async def test_dispatch_assigns_the_oldest_task_to_a_free_agent(world: World) -> None:
    wf = await world.workflow()
    first, second = await world.task(wf), await world.task(wf)
    sock = await world.connect("a1", capacity=1)

    assert await world.dispatcher.dispatch_once() == 1

    task = await world.get(first)
    assert (task.task_status, task.attempt, task.agent_id) == (S.QUEUED, 1, "a1")
    assert task.assigned_at == world.clock.now()
    assert (await world.get(second)).task_status is S.PENDING  # capacity 1 is used
    [assign] = sock.frames("task.assign")
    assert (assign["task_id"], assign["attempt"]) == (first, 1)


async def test_dispatch_spreads_over_agents_and_respects_capacity(world: World) -> None:
    wf = await world.workflow()
    tasks = [await world.task(wf) for _ in range(5)]
    a, b = await world.connect("a", capacity=2), await world.connect("b", capacity=2)

    assert await world.dispatcher.dispatch_once() == 4
    assert len(a.frames("task.assign")) == 2 and len(b.frames("task.assign")) == 2
    assert (await world.get(tasks[4])).task_status is S.PENDING
    assert await world.dispatcher.dispatch_once() == 0  # nobody has a free slot


async def test_tasks_nobody_can_run_wait_and_come_back(world: World) -> None:
    wf = await world.workflow(labels=["gpu"])
    task_id = await world.task(wf)
    await world.connect("cpu-only", capacity=4)

    assert await world.dispatcher.dispatch_once() == 0
    assert (await world.get(task_id)).task_status is S.PENDING  # too fresh to judge
    world.clock.advance(world.settings.scheduler.poll_interval + 0.1)
    assert await world.dispatcher.dispatch_once() == 0
    assert (await world.get(task_id)).task_status is S.WAITING

    await world.connect("gpu-box", capacity=1, labels={"gpu"})
    assert await world.dispatcher.dispatch_once() == 1
    task = await world.get(task_id)
    assert (task.task_status, task.agent_id) == (S.QUEUED, "gpu-box")


async def test_ack_timeout_requeues_with_a_retry_and_tells_the_agent(world: World) -> None:
    wf = await world.workflow(retries=1)
    task_id = await world.task(wf)
    sock = await world.connect("a1")
    await world.dispatcher.dispatch_once()

    world.clock.advance(world.settings.scheduler.ack_timeout - 0.5)
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.QUEUED  # not yet

    world.clock.advance(1.0)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count, task.agent_id) == (S.PENDING, 1, None)
    [cancel] = sock.frames("task.cancel")
    assert (cancel["task_id"], cancel["attempt"], cancel["reason"]) == (task_id, 1, "reassigned")


async def test_ack_timeout_without_retries_left_fails_agent_lost(world: World) -> None:
    wf = await world.workflow(retries=0)
    task_id = await world.task(wf)
    await world.connect("a1")
    await world.dispatcher.dispatch_once()
    world.clock.advance(world.settings.scheduler.ack_timeout + 1)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.task_error_code) == (S.FAILED, "agent_lost")
    assert "did not acknowledge" in task.task_error


async def _running(world: World, task_id: str, agent: str = "a1") -> None:
    await world.dispatcher.dispatch_once()
    async with world.db.unit() as uow:
        await TaskExecution(uow, world.settings).ack(
            AgentRef(world.team_id, agent), task_id, 1, world.clock.now()
        )


async def test_task_timeout_fails_timed_out_and_aborts_on_the_agent(world: World) -> None:
    wf = await world.workflow()
    task_id = await world.task(wf)
    sock = await world.connect("a1")
    await _running(world, task_id)
    assert (await world.get(task_id)).task_status is S.RUNNING

    world.clock.advance(61)  # the workflow's task_timeout is 60 s
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.task_error_code) == (S.FAILED, "timed_out")
    assert [f["reason"] for f in sock.frames("task.cancel")] == ["timed_out"]


async def test_an_unconfirmed_cancel_ends_cancelled_after_the_grace(world: World) -> None:
    wf = await world.workflow()
    task_id = await world.task(wf)
    await world.connect("a1")
    await _running(world, task_id)
    async with world.db.unit() as uow:
        task = await TaskQueue(uow.session).get_any(task_id)
        assert task is not None
        task.cancel_requested_at = world.clock.now()

    world.clock.advance(world.settings.scheduler.cancel_grace - 1)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.RUNNING

    world.clock.advance(2)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.CANCELLED


async def test_a_silent_agent_is_lost_and_its_tasks_retried(world: World) -> None:
    wf = await world.workflow(retries=1)
    task_id = await world.task(wf)
    await world.connect("a1")
    await _running(world, task_id)
    silence = world.reaper.silence

    world.clock.advance(silence - 1)
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.RUNNING

    world.clock.advance(2)
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count) == (S.PENDING, 1)
    assert world.gateway.get(world.team_id, "a1") is None  # evicted: no new work goes to it


async def test_after_a_restart_agents_get_one_window_before_being_judged(world: World) -> None:
    wf = await world.workflow()
    task_id = await world.task(wf)
    await world.connect("a1")
    await _running(world, task_id)
    world.clock.advance(world.reaper.silence + 5)  # the server was down a while
    world.reaper.start()  # restarted now
    await world.reaper.stop()
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.RUNNING
    world.clock.advance(world.settings.scheduler.restart_grace - 1)
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.RUNNING  # still within the grace
    world.clock.advance(2)
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.PENDING


async def test_after_a_restart_unacknowledged_assignments_wait_for_the_grace(
    world: World,
) -> None:
    wf = await world.workflow()
    task_id = await world.task(wf)
    await world.connect("a1")
    await world.dispatcher.dispatch_once()
    world.clock.advance(world.settings.scheduler.ack_timeout + 5)
    world.reaper.start()  # the server restarted before the ack came
    await world.reaper.stop()
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.QUEUED  # the agent may still ack
    world.clock.advance(world.settings.scheduler.restart_grace + 1)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count) == (S.PENDING, 1)


async def test_a_cancel_requested_meanwhile_wins_over_a_retry(world: World) -> None:
    wf = await world.workflow(retries=3)
    task_id = await world.task(wf)
    await world.connect("a1")
    await world.dispatcher.dispatch_once()
    async with world.db.unit() as uow:
        task = await TaskQueue(uow.session).get_any(task_id)
        assert task is not None
        task.cancel_requested_at = world.clock.now()
    world.clock.advance(world.settings.scheduler.ack_timeout + 1)
    await world.heartbeat("a1")
    await world.reaper.reap_once()
    assert (await world.get(task_id)).task_status is S.CANCELLED


async def test_a_status_outside_the_enum_is_refused_on_write(world: World) -> None:
    wf = await world.workflow()
    task_id = await world.task(wf)
    with pytest.raises(Exception, match="runing"):
        async with world.db.unit() as uow:
            task = await TaskQueue(uow.session).get_any(task_id)
            assert task is not None
            task.task_status = "runing"  # type: ignore[assignment]
    assert (await world.get(task_id)).task_status is S.PENDING


def test_deadline_arithmetic_is_the_clock_s() -> None:
    from runyard.scheduler.reaper import Deadlines
    from runyard.settings import SchedulerSettings
    from runyard.tasks.repository import TimerRow
    from tests.unit.scheduler.conftest import T0

    d = Deadlines.at(T0, SchedulerSettings(ack_timeout=10, cancel_grace=5))
    queued = TimerRow("t", S.QUEUED, T0 - timedelta(seconds=11), None, 60, None)
    fresh = TimerRow("t", S.QUEUED, T0 - timedelta(seconds=9), None, 60, None)
    late = TimerRow("t", S.RUNNING, T0, T0 - timedelta(seconds=61), 60, None)
    assert d.ack_overdue(queued) and not d.ack_overdue(fresh)
    assert d.timed_out(late) and not d.due(fresh)
