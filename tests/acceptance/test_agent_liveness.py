"""Issue 15, defect 3: a live agent is never declared lost because the server is slow to handle
its other frames. A fake agent holding several running tasks sends a burst of output-URL
requests (each one a database transaction on the server) while its heartbeats keep leaving on
time; the server must count those heartbeats when they arrive, not when the frames queued
before them are handled.

The burst size is ``RUNYARD_TEST_FLOOD_FRAMES`` (default 1,000: on SQLite that is several
seconds of handler work, well past the 1.5 s silence window of the shrunk timers)."""

from __future__ import annotations

import asyncio
import os

import pytest

from runyard_protocol import OutputUrlRequest, RunningTask, TaskAck
from tests.acceptance.conftest import Stack
from tests.support.fake_agent import FakeAgent, kind

TASKS = 10


@pytest.mark.parametrize("stack", ["e2e-sqlite-local"], indirect=True)
async def test_heartbeats_count_while_other_frames_queue(stack: Stack) -> None:
    frames = int(os.environ.get("RUNYARD_TEST_FLOOD_FRAMES", "1000"))
    agent = FakeAgent(stack.url, stack.team.agent_key, "flooded", capacity=TASKS)
    await agent.connect()
    try:
        task_ids = []
        for _ in range(TASKS):
            task_ids.append(await asyncio.to_thread(stack.run, "sleep", {"seconds": 60}))
        held: list[RunningTask] = []
        for _ in range(TASKS):
            assign = await agent.expect("task.assign", timeout=20)
            held.append(RunningTask(task_id=assign["task_id"], attempt=assign["attempt"]))
            await agent.send(TaskAck(task_id=assign["task_id"], attempt=assign["attempt"]))
        agent.running = held
        before = agent.heartbeats_sent
        for n in range(frames):
            task = held[n % TASKS]
            await agent.send(
                OutputUrlRequest(
                    request_id=f"flood-{n}",
                    task_id=task.task_id,
                    attempt=task.attempt,
                    output_id=f"out-{n // TASKS}",
                    file_name="out.bin",
                    file_size=1,
                )
            )
        answered = 0
        closed = None
        while answered < frames:
            try:
                frame = await agent.expect_any(
                    ("task.output_url.result", "error", "task.cancel"), timeout=120
                )
            except ConnectionError as exc:
                closed = str(exc)
                break
            if kind(frame) != "task.output_url.result":
                break  # refused: the attempt is not current any more (the agent was lost)
            answered += 1
        heartbeats = agent.heartbeats_sent - before
        rows = [await asyncio.to_thread(stack.task, t) for t in task_ids]
        retried = [
            f"task {r['id']}: {r['task_status']} retry_count {r['retry_count']} "
            f"agent {r['agent_id']}"
            for r in rows
            if r["retry_count"] or r["task_status"] != "running" or r["agent_id"] != "flooded"
        ]
        print(
            f"\nD3: tasks {TASKS}, frames {frames}, answered {answered}, heartbeats sent during "
            f"the burst {heartbeats} (every {agent.interval:g} s), close code {agent.close_code}"
        )
        assert closed is None and answered == frames and not retried, (
            f"the agent was declared lost while it sent a heartbeat every {agent.interval:g} s "
            f"({heartbeats} during the burst): {answered} of {frames} output-URL requests "
            f"answered, connection {closed or 'open'}, close code {agent.close_code}; tasks:\n  "
            + "\n  ".join(retried)
        )
    finally:
        await agent.close()
