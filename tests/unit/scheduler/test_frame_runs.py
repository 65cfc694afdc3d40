"""Frames of one task that queue up together share one unit of work: the lane hands over the
run of acks, progress reports and output-URL requests at its head, the run is applied with one
commit, and a stale frame in it makes every frame of the run answer as if handled alone."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from runyard.gateway.batch import can_join, handle_run
from runyard.gateway.handlers import FrameHandler
from runyard.gateway.lanes import FrameLanes
from runyard.models import TaskEvent, TaskOutput
from runyard.tasks.states import TaskStatus
from runyard_protocol import (
    AgentFrame,
    Heartbeat,
    OutputUrlRequest,
    TaskAck,
    TaskComplete,
    TaskProgress,
)
from tests.unit.scheduler.conftest import FakeSocket, World


def request(task_id: str, attempt: int = 1, output_id: str = "result") -> OutputUrlRequest:
    return OutputUrlRequest(
        request_id=f"r-{output_id}-{attempt}",
        task_id=task_id,
        attempt=attempt,
        output_id=output_id,
        file_name="out.txt",
        content_type="text/plain",
        file_size=5,
    )


def handler_for(world: World, agent_id: str = "a1") -> FrameHandler:
    [conn] = [c for c in world.gateway.all_connections() if c.agent_id == agent_id]
    storage = world.dispatcher.storage
    return FrameHandler(world.db, world.settings, storage, world.clock, world.gateway, conn)


async def test_the_lane_hands_over_the_joinable_frames_at_its_head() -> None:
    runs: list[list[str]] = []

    async def record(frames: list[AgentFrame]) -> None:
        runs.append([f.type.split(".")[1] for f in frames])

    async def fail(_exc: BaseException) -> None:
        raise AssertionError("no frame fails here")

    lanes = FrameLanes(record, fail, can_join)
    for frame in (
        TaskAck(task_id="t", attempt=1),
        TaskProgress(task_id="t", attempt=1, progress=0.5),
        request("t"),
        TaskComplete(task_id="t", attempt=1, outputs=[]),
        TaskProgress(task_id="t", attempt=1, progress=1.0),
        Heartbeat(),
    ):
        lanes.submit(frame)
    await lanes.close(timeout=5)
    assert sorted(runs) == sorted(
        [["ack", "progress", "output_url"], ["complete"], ["progress"], ["heartbeat"]]
    )


async def test_a_run_is_applied_with_one_commit_and_answered_after_it(world: World) -> None:
    task_id = await world.assigned()
    handler = handler_for(world)
    commits = 0

    def count(_session: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(Session, "after_commit", count)
    try:
        await handle_run(
            handler,
            [
                TaskAck(task_id=task_id, attempt=1),
                TaskProgress(task_id=task_id, attempt=1, progress=0.4, message="early"),
                TaskProgress(task_id=task_id, attempt=1, progress=0.9, message="late"),
                request(task_id),
            ],
        )
    finally:
        event.remove(Session, "after_commit", count)
    assert commits == 1
    task = await world.get(task_id)
    assert (task.task_status, task.progress) == (TaskStatus.RUNNING, 0.9)
    async with world.db.session() as session:
        events = list(await session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)))
        slots = list(await session.scalars(select(TaskOutput).where(TaskOutput.task_id == task_id)))
    progress = [e.data["message"] for e in events if e.event == "progress"]
    assert progress == ["late"]  # the earlier report of the run is superseded
    assert [s.output_id for s in slots] == ["result"]
    sock = world.sockets["a1"]
    [grant] = sock.frames("task.output_url")
    assert grant["request_id"] == "r-result-1" and grant["upload_url"]
    assert handler.conn.granted[(task_id, 1)] == {"result": (slots[0].object_key, 5)}


async def test_a_stale_frame_in_a_run_makes_each_answer_alone(world: World) -> None:
    task_id = await world.assigned()
    handler = handler_for(world)
    await handle_run(
        handler,
        [
            TaskAck(task_id=task_id, attempt=1),
            request(task_id, attempt=2),  # not the current attempt
            request(task_id, attempt=1),
        ],
    )
    task = await world.get(task_id)
    assert task.task_status is TaskStatus.RUNNING  # the ack still counts
    sock: FakeSocket = world.sockets["a1"]
    [refused] = sock.frames("error")
    assert (refused["error_code"], refused["in_reply_to"]) == ("stale_attempt", "r-result-2")
    [grant] = sock.frames("task.output_url")
    assert grant["request_id"] == "r-result-1"
    async with world.db.session() as session:
        slots = list(await session.scalars(select(TaskOutput).where(TaskOutput.task_id == task_id)))
    assert [(s.attempt, s.output_id) for s in slots] == [(1, "result")]
