"""Passes after the first (which judges ``waiting``) only assign; on PostgreSQL they go through
the driver (``scheduler/direct.py``). They must do what the general pass does: the oldest
tasks first, labels and capacity respected, the same row changes, events and frames; and what
only the general pass settles (an input that expired) is left to it, at the next pass."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from runyard.models import StoredFile, Task, TaskEvent
from runyard.states import TaskStatus as S
from tests.unit.scheduler.conftest import World


async def judged(world: World) -> None:
    """The first pass of a dispatcher judges ``waiting``; the ones after it only assign."""
    assert await world.dispatcher.dispatch_once() == 0


async def events(world: World, task_id: str) -> list[tuple[int, str, str]]:
    async with world.db.session() as s:
        rows = await s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id))
        return sorted((e.seq, e.event, e.data["task_status"]) for e in rows)


async def test_assigning_passes_claim_in_order_and_respect_labels_and_capacity(
    world: World,
) -> None:
    await judged(world)
    plain, gpu = await world.workflow(), await world.workflow(labels=["gpu"])
    first = await world.task(plain)
    needs_gpu = await world.task(gpu)
    second, third = await world.task(plain), await world.task(plain)
    cpu = await world.connect("cpu", capacity=2)

    assert await world.dispatcher.dispatch_once() == 2
    for task_id in (first, second):
        task = await world.get(task_id)
        assert (task.task_status, task.attempt, task.agent_id) == (S.QUEUED, 1, "cpu")
        assert task.assigned_at == world.clock.now() and task.event_seq == 1
        assert await events(world, task_id) == [(1, "status", "queued")]
    assert [(f["task_id"], f["attempt"]) for f in cpu.frames("task.assign")] == [
        (first, 1),
        (second, 1),
    ]
    assert (await world.get(needs_gpu)).task_status is S.PENDING
    assert (await world.get(third)).task_status is S.PENDING  # capacity 2 is used
    assert await world.dispatcher.dispatch_once() == 0

    gpu_sock = await world.connect("big", capacity=4, labels={"gpu"})
    assert await world.dispatcher.dispatch_once() == 2
    assert {f["task_id"] for f in gpu_sock.frames("task.assign")} == {needs_gpu, third}
    assembled = cpu.frames("task.assign")[0]
    assert assembled["workflow"]["slug"].startswith("wf-") and assembled["parameters"] == {}


async def test_an_input_that_expired_is_left_to_the_general_pass_which_fails_it(
    world: World,
) -> None:
    await judged(world)
    with_input = await world.workflow(parameters=[{"key": "image", "type": "file"}])
    async with world.db.unit() as uow:
        uow.session.add(
            StoredFile(
                team_id=world.team_id,
                file_key="inputs/t/old.png",
                file_name="old.png",
                content_type="image/png",
                file_size=3,
                file_status="uploaded",
                expires_at=world.clock.now() - timedelta(seconds=1),
            )
        )
    expired = await world.task(with_input)
    async with world.db.unit() as uow:
        task = await uow.session.get(Task, expired)
        assert task is not None
        task.parameters = {"image": "inputs/t/old.png"}
    fine = await world.task(await world.workflow())
    sock = await world.connect("a1", capacity=2)

    await world.dispatcher.dispatch_once()
    await world.dispatcher.dispatch_once()  # the general pass, on PostgreSQL
    failed = await world.get(expired)
    assert (failed.task_status, failed.task_error_code) == (S.FAILED, "input_expired")
    assert [f["task_id"] for f in sock.frames("task.assign")] == [fine]
    async with world.db.session() as s:
        assert (await s.scalar(select(Task.attempt).where(Task.id == expired))) == 0
