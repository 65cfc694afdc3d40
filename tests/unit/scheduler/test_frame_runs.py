"""Frames of one task that queue up together share one unit of work: the lane hands over the
run of acks, progress reports and output-URL requests at its head, the run is applied with one
commit, and a stale frame in it makes every frame of the run answer as if handled alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from runyard.gateway.batch import can_join, handle_run
from runyard.gateway.handlers import FrameHandler
from runyard.gateway.lanes import FrameLanes
from runyard.models import TaskEvent, TaskOutput
from runyard.services import choose_transitions
from runyard.states import TaskStatus
from runyard_protocol import (
    AgentFrame,
    Heartbeat,
    OutputSpec,
    OutputUrlRequest,
    TaskAck,
    TaskComplete,
    TaskProgress,
)
from tests.support.statements import counting_reads
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


def spec(output_id: str) -> OutputSpec:
    return OutputSpec(
        output_id=output_id, file_name="out.txt", content_type="text/plain", file_size=5
    )


def handler_for(world: World, agent_id: str = "a1") -> FrameHandler:
    [conn] = [c for c in world.gateway.all_connections() if c.agent_id == agent_id]
    storage = world.dispatcher.storage
    transitions = choose_transitions(world.db, world.settings)
    return FrameHandler(
        world.db, world.settings, storage, world.clock, world.gateway, conn, transitions
    )


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
    [known] = handler.conn.granted[(task_id, 1)].values()
    assert (known.object_key, known.file_size) == (slots[0].object_key, 5)


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


async def reported(world: World, task_id: str) -> list[str]:
    """The output ids of the task's ``completed`` event, in its order."""
    async with world.db.session() as session:
        done = await session.scalar(
            select(TaskEvent).where(TaskEvent.task_id == task_id, TaskEvent.event == "completed")
        )
    assert done is not None
    return [o["output_id"] for o in done.data["task_output"]["outputs"]]


async def put_output(world: World, object_key: str, body: bytes) -> None:
    storage = world.dispatcher.storage

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    await storage.receive_object(object_key, len(body), chunks())  # type: ignore[attr-defined]


async def test_slots_granted_on_the_assigning_connection_are_not_read_back(world: World) -> None:
    task_id = await world.assigned()
    handler = handler_for(world)
    with counting_reads(world.db.engine, "task_outputs") as reads:
        await handle_run(handler, [TaskAck(task_id=task_id, attempt=1), request(task_id)])
        await handler.handle(request(task_id, output_id="extra"))
        keys = [s.object_key for s in handler.conn.granted[(task_id, 1)].values()]
        for key in keys:
            await put_output(world, key, b"hello")
        # reported in the other order: positions follow the report
        await handler.handle(
            TaskComplete(
                task_id=task_id,
                attempt=1,
                outputs=[spec("extra"), spec("result")],
            )
        )
    assert reads.count == 0
    task = await world.get(task_id)
    assert task.task_status is TaskStatus.COMPLETED
    assert await reported(world, task_id) == ["extra", "result"]
    async with world.db.session() as session:
        where = TaskOutput.task_id == task_id
        rows = list(await session.scalars(select(TaskOutput).where(where).order_by("position")))
    assert [(r.output_id, r.output_status) for r in rows] == [
        ("extra", "final"),
        ("result", "final"),
    ]
    assert all(r.expires_at == task.outputs_expire_at for r in rows)
    assert sorted(r.object_key for r in rows) == sorted(keys)
    assert keys[0].endswith("/0-out.txt") and keys[1].endswith("/1-out.txt")  # grant order
    assert (task_id, 1) not in handler.conn.granted


async def test_after_a_reconnect_the_slots_are_read_from_the_database(world: World) -> None:
    task_id = await world.assigned()
    before = handler_for(world)
    await handle_run(before, [TaskAck(task_id=task_id, attempt=1), request(task_id)])
    [first] = before.conn.granted[(task_id, 1)].values()
    # the same agent connects again: the new connection knows nothing of the attempt
    sock = FakeSocket()
    world.sockets["a1"] = sock
    world.gateway.add(replace(before.conn, websocket=sock, granted={}))
    after = handler_for(world)
    assert (task_id, 1) not in after.conn.granted
    with counting_reads(world.db.engine, "task_outputs") as reads:
        await after.handle(request(task_id))  # asked again: the same slot
        await after.handle(request(task_id, output_id="extra"))
    assert reads.count == 2
    grants = world.sockets["a1"].frames("task.output_url")
    assert len(grants) == 2
    await put_output(world, first.object_key, b"hello")
    async with world.db.session() as session:
        extra = await session.scalar(select(TaskOutput).where(TaskOutput.output_id == "extra"))
    assert extra is not None and extra.position == 1 and extra.object_key != first.object_key
    await put_output(world, extra.object_key, b"hello")
    await after.handle(
        TaskComplete(
            task_id=task_id,
            attempt=1,
            outputs=[spec("result"), spec("extra")],
        )
    )
    task = await world.get(task_id)
    assert task.task_status is TaskStatus.COMPLETED
    assert await reported(world, task_id) == ["result", "extra"]


async def test_a_completion_naming_an_ungranted_output_fails_the_task(world: World) -> None:
    task_id = await world.assigned()
    handler = handler_for(world)
    await handle_run(handler, [TaskAck(task_id=task_id, attempt=1), request(task_id)])
    await handler.handle(TaskComplete(task_id=task_id, attempt=1, outputs=[spec("other")]))
    task = await world.get(task_id)
    assert (task.task_status, task.task_error_code) == (TaskStatus.FAILED, "output_missing")
    assert "'other' was never granted" in task.task_error


async def test_several_requests_in_one_run_get_distinct_slots(world: World) -> None:
    """Two outputs with the same file name and a repeated request, queued together: each
    output its own position and key, the repeat the same slot, one commit."""
    task_id = await world.assigned()
    handler = handler_for(world)
    await handle_run(
        handler,
        [
            TaskAck(task_id=task_id, attempt=1),
            request(task_id, output_id="a"),
            request(task_id, output_id="b"),
            request(task_id, output_id="a"),
        ],
    )
    grants = world.sockets["a1"].frames("task.output_url")
    assert len(grants) == 3
    known = handler.conn.granted[(task_id, 1)]
    assert list(known) == ["a", "b"]
    assert known["a"].object_key.endswith("/0-out.txt")
    assert known["b"].object_key.endswith("/1-out.txt")
    assert grants[0]["upload_url"].split("?")[0] == grants[2]["upload_url"].split("?")[0]
    async with world.db.session() as session:
        rows = list(await session.scalars(select(TaskOutput).where(TaskOutput.task_id == task_id)))
    assert sorted((r.output_id, r.position) for r in rows) == [("a", 0), ("b", 1)]
