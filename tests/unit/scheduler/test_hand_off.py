"""Tasks a pass claims (and so locks) but leaves to other server processes are handed off once
after the commit: another process woken for them meanwhile skipped them as locked."""

from __future__ import annotations

from tests.unit.scheduler.conftest import World


async def test_a_task_left_for_other_processes_is_handed_off_once(world: World) -> None:
    calls = 0

    def hand_off() -> None:
        nonlocal calls
        calls += 1

    world.dispatcher.hand_off = hand_off
    await world.connect("cpu-agent", labels={"cpu"}, capacity=1)
    cpu = await world.workflow(labels=["cpu"])
    first, second = await world.task(cpu), await world.task(cpu)

    assert await world.dispatcher.dispatch_once() == 1
    assert calls == 1  # the second was claimed with the page but not assigned: others are told
    assert (await world.get(first)).task_status.value == "queued"
    assert (await world.get(second)).task_status.value == "pending"
    world.sockets["cpu-agent"].sent.clear()
    await world.connect("cpu-2", labels={"cpu"}, capacity=1)
    assert await world.dispatcher.dispatch_once() == 1
    assert calls == 1  # everything claimed was assigned or already handed off


async def test_a_queue_no_agent_here_serves_is_not_claimed(world: World) -> None:
    """A task none of this process's agents could take is not even locked (so another
    process's agents take it on the wake-up every submission sends): nothing to hand off."""
    calls = 0

    def hand_off() -> None:
        nonlocal calls
        calls += 1

    world.dispatcher.hand_off = hand_off
    await world.connect("cpu-agent", labels={"cpu"})
    gpu_task = await world.task(await world.workflow(labels=["gpu"]))
    assert await world.dispatcher.dispatch_once() == 0
    assert calls == 0
    await world.task(await world.workflow(labels=["cpu"], retries=2))
    assert await world.dispatcher.dispatch_once() == 1
    assert calls == 0
    assert (await world.get(gpu_task)).task_status.value in ("pending", "waiting")


async def test_a_pass_pages_past_tasks_its_agents_cannot_take(world: World) -> None:
    """A pass claims a few tasks more than it has free slots, page after page: twenty tasks
    nobody here can run at the head of the queue do not hide the one it can."""
    world.dispatcher.hand_off = lambda: None
    await world.connect("cpu-agent", labels={"cpu"})
    gpu = await world.workflow(labels=["gpu"])
    for _ in range(20):
        await world.task(gpu)
    runnable = await world.task(await world.workflow(labels=["cpu"], retries=2))
    assert await world.dispatcher.dispatch_once() == 1
    assert (await world.get(runnable)).task_status.value == "queued"
