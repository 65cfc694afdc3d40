"""One agent connection's frames are bounded (issue 32, item 1): at most ``concurrency`` runs
are handled at once (each may hold a database connection), and ``room()`` holds the reader
once ``backlog`` frames wait."""

from __future__ import annotations

import asyncio

from runyard.gateway.batch import can_join
from runyard.gateway.lanes import FrameLanes
from runyard_protocol import AgentFrame, TaskAck


async def test_lanes_of_many_tasks_are_handled_a_few_at_a_time() -> None:
    running, most = 0, 0
    release = asyncio.Event()

    async def handle(_frames: list[AgentFrame]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    async def fail(_exc: BaseException) -> None:
        raise AssertionError("no frame fails here")

    lanes = FrameLanes(handle, fail, can_join, concurrency=2, backlog=5)
    for i in range(5):
        await lanes.room()
        lanes.submit(TaskAck(task_id=f"t{i}", attempt=1))
    for _ in range(10):
        await asyncio.sleep(0)
    assert most == 2  # five lanes, two handled at once
    reader = asyncio.create_task(lanes.room())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not reader.done()  # five frames wait: the reader is held
    release.set()
    await asyncio.wait_for(reader, 5)  # handled: room again
    await lanes.close(timeout=5)
    assert most == 2 and running == 0
