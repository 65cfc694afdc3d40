"""Exactly-once rules of issue 15, over the real queue with a fake clock: an ack lost with a
connection is implied, a completion of a still-queued attempt is applied, a resent outcome is
recognised, and an agent heard from lately is never judged lost."""

from __future__ import annotations

from runyard.gateway.reconcile import already_applied, reconcile_on_hello
from runyard.states import TaskStatus
from runyard.tasks.execution import AgentRef, StaleAttempt, TaskExecution
from runyard_protocol import RunningTask
from tests.unit.scheduler.conftest import World

S = TaskStatus


async def test_a_reconnect_that_reports_a_queued_task_implies_its_ack(world: World) -> None:
    task_id = await world.assigned()
    assert (await world.get(task_id)).task_status is S.QUEUED

    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        drop = await reconcile_on_hello(
            uow, me, [RunningTask(task_id=task_id, attempt=1)], world.clock
        )
    assert drop == []
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count, task.attempt) == (S.RUNNING, 0, 1)

    world.clock.advance(world.settings.scheduler.ack_timeout + 1)
    await world.heartbeat("a1")
    await world.reaper.reap_once()  # no ack timeout: it is running
    assert (await world.get(task_id)).task_status is S.RUNNING


async def test_a_completion_of_a_still_queued_attempt_is_applied(world: World) -> None:
    task_id = await world.assigned()
    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        await TaskExecution(uow, world.settings).complete(me, task_id, 1, [], world.clock.now())
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count) == (S.COMPLETED, 0)
    assert task.started_at is not None


async def test_a_resent_outcome_is_recognised_and_a_stale_one_is_not(world: World) -> None:
    task_id = await world.assigned()
    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        await TaskExecution(uow, world.settings).complete(me, task_id, 1, [], world.clock.now())

    async with world.db.unit() as uow:  # the same completion again: fenced out...
        try:
            await TaskExecution(uow, world.settings).complete(me, task_id, 1, [], world.clock.now())
            raise AssertionError("a finished task must not complete twice")
        except StaleAttempt:
            pass
    task = await world.get(task_id)
    assert already_applied(task, me, 1, "complete")  # ...and acknowledged as a duplicate
    assert not already_applied(task, me, 2, "complete")
    assert not already_applied(task, AgentRef("other-team", "a1"), 1, "complete")
    assert not already_applied(None, me, 1, "fail")


async def test_a_released_attempt_is_recognised_when_sent_again(world: World) -> None:
    task_id = await world.assigned()
    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        await TaskExecution(uow, world.settings).release(me, task_id, 1, world.clock.now())
    task = await world.get(task_id)
    assert task.task_status is S.PENDING and task.retry_count == 0
    assert already_applied(task, me, 1, "release")


async def test_an_agent_heard_from_lately_is_not_lost(world: World) -> None:
    task_id = await world.assigned()
    world.clock.advance(world.reaper.silence + 1)
    conn = world.gateway.get(world.team_id, "a1")
    assert conn is not None
    conn.last_seen = world.clock.now()  # a frame arrived; its heartbeat waits behind the DB
    async with world.db.unit() as uow:
        me = AgentRef(world.team_id, "a1")
        await TaskExecution(uow, world.settings).ack(me, task_id, 1, world.clock.now())
    await world.reaper.reap_once()
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count) == (S.RUNNING, 0)
    assert world.gateway.get(world.team_id, "a1") is conn


async def test_an_assignment_that_never_reached_the_agent_is_requeued_without_a_retry(
    world: World,
) -> None:
    task_id = await world.assigned(retries=0)  # committed; say the server died before sending
    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        await reconcile_on_hello(uow, me, [], world.clock)  # the agent does not know the task
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count, task.agent_id) == (S.PENDING, 0, None)


async def test_a_running_task_the_agent_no_longer_reports_uses_a_retry(world: World) -> None:
    task_id = await world.assigned(retries=1)
    me = AgentRef(world.team_id, "a1")
    async with world.db.unit() as uow:
        await TaskExecution(uow, world.settings).ack(me, task_id, 1, world.clock.now())
    async with world.db.unit() as uow:
        await reconcile_on_hello(uow, me, [], world.clock)  # it restarted and lost the task
    task = await world.get(task_id)
    assert (task.task_status, task.retry_count) == (S.PENDING, 1)
