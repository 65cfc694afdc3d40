"""Dispatch by queue: tasks nobody connected can take never hide the ones an agent can (100k
of them ahead of one), two teams and two label sets each get their own, and priorities go first
with aging so that a low priority never starves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, text

from runyard.db.base import UTCDateTime
from runyard.states import PRIORITY_MAX, PRIORITY_MIN, PRIORITY_STEP, TaskStatus
from tests.unit.scheduler.conftest import T0, World

S = TaskStatus

_BULK = text(
    """
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
    INSERT INTO tasks (id, team_id, workflow_id, workflow_slug, workflow_version, task_status,
        progress, parameters, required_labels, task_timeout, max_retries, task_error,
        retry_count, attempt, created_at, event_seq, priority, tool_type, requirement_key,
        rank_at)
    SELECT 'bulk-' || i, :team_id, :workflow_id, 'bulk', 1, :status, 0.0, '{}',
        '["nolabel"]', 60, 0, '', 0, 0, :at, 1, 0, 'python', 'python|nolabel', :at
    FROM n
    """
).bindparams(bindparam("at", type_=UTCDateTime()))


async def backlog(world: World, count: int, status: S = S.WAITING) -> None:
    """``count`` tasks for a label no agent has, all older than anything else."""
    wf = await world.workflow(labels=["nolabel"])
    async with world.db.unit() as uow:
        await uow.session.execute(
            _BULK,
            {
                "count": count,
                "team_id": world.team_id,
                "workflow_id": wf,
                "status": status.value,
                "at": T0 - timedelta(hours=1),
            },
        )


async def test_100k_tasks_nobody_can_take_do_not_hide_a_runnable_one(world: World) -> None:
    await backlog(world, 100_000)
    runnable = await world.task(await world.workflow(labels=["probe"]))
    sock = await world.connect("probe-agent", labels={"probe"})

    assert await world.dispatcher.dispatch_once() == 1
    assert (await world.get(runnable)).task_status is S.QUEUED
    [assign] = sock.frames("task.assign")
    assert assign["task_id"] == runnable


async def test_pending_backlog_of_another_label_does_not_block_either(world: World) -> None:
    await backlog(world, 500, status=S.PENDING)
    wf = await world.workflow(labels=["probe"])
    runnable = [await world.task(wf) for _ in range(3)]
    await world.connect("probe-agent", labels={"probe"}, capacity=3)
    assert await world.dispatcher.dispatch_once() == 3
    for task_id in runnable:
        assert (await world.get(task_id)).task_status is S.QUEUED


async def test_two_label_sets_each_go_to_their_agents_oldest_first(world: World) -> None:
    gpu, cpu = await world.workflow(labels=["gpu"]), await world.workflow(labels=["cpu"], retries=2)
    order = [await world.task(w) for w in (gpu, cpu, gpu, cpu, gpu, cpu)]
    g = await world.connect("g", labels={"gpu"}, capacity=2)
    c = await world.connect("c", labels={"cpu"}, capacity=2)

    assert await world.dispatcher.dispatch_once() == 4
    assert [f["task_id"] for f in g.frames("task.assign")] == [order[0], order[2]]
    assert [f["task_id"] for f in c.frames("task.assign")] == [order[1], order[3]]


async def test_an_agent_with_more_labels_serves_every_queue_it_covers(world: World) -> None:
    plain, gpu = await world.workflow(), await world.workflow(labels=["gpu"])
    first, second = await world.task(gpu), await world.task(plain)
    both = await world.connect("both", labels={"gpu", "cpu"}, capacity=2)
    assert await world.dispatcher.dispatch_once() == 2
    assert [f["task_id"] for f in both.frames("task.assign")] == [first, second]


async def test_two_teams_do_not_block_each_other(world: World) -> None:
    await backlog(world, 1_000)
    async with world.db.unit() as uow:
        from runyard.models import Team

        uow.session.add(Team(id="team-2", display_name="t2"))
    mine = await world.task(await world.workflow(labels=["x"]))
    world.team_id = "team-2"
    theirs = await world.task(await world.workflow(labels=["x"], retries=3))
    other = await world.connect("b", labels={"x"})
    world.team_id = "team-1"
    own = await world.connect("a", labels={"x"})

    assert await world.dispatcher.dispatch_once() == 2
    assert [f["task_id"] for f in own.frames("task.assign")] == [mine]
    assert [f["task_id"] for f in other.frames("task.assign")] == [theirs]


async def test_higher_priority_goes_first(world: World) -> None:
    wf = await world.workflow()
    low = await world.task(wf, priority=-5)
    normal = await world.task(wf)
    high = await world.task(wf, priority=5)
    sock = await world.connect("a", capacity=1)
    for expected in (high, normal, low):
        assert await world.dispatcher.dispatch_once() == 1
        assert sock.frames("task.assign")[-1]["task_id"] == expected
        await _finish(world, expected)


async def test_aging_a_low_priority_task_is_not_overtaken_forever(world: World) -> None:
    """A task of the lowest priority is overtaken only by tasks submitted less than
    (PRIORITY_MAX - PRIORITY_MIN) steps after it: past that bound it goes first."""
    wf = await world.workflow()
    low = await world.task(wf, priority=PRIORITY_MIN)
    world.clock.advance(((PRIORITY_MAX - PRIORITY_MIN) * PRIORITY_STEP).total_seconds() - 1)
    overtakes = await world.task(wf, priority=PRIORITY_MAX)
    world.clock.advance(2)
    too_late = await world.task(wf, priority=PRIORITY_MAX)
    sock = await world.connect("a", capacity=1)
    for expected in (overtakes, low, too_late):
        assert await world.dispatcher.dispatch_once() == 1
        assert sock.frames("task.assign")[-1]["task_id"] == expected
        await _finish(world, expected)


async def _finish(world: World, task_id: str) -> None:
    """The agent's slot frees: the task ends (cancelled, as a terminal state)."""
    from runyard.tasks import lifecycle

    async with world.db.unit() as uow:
        from runyard.models import Task

        task = await uow.session.get(Task, task_id)
        assert task is not None
        lifecycle.cancel(uow, task, world.clock.now())
