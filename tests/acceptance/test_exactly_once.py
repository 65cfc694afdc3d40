"""Issue 15: nothing runs twice and nothing is lost. Regression tests of defects 1 and 2, each
against a real server process: an outcome an agent reports for an attempt the server still
holds is applied, never silently dropped and paid for with a retry."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx

from runyard_protocol import OutputSpec, RunningTask, TaskComplete
from tests.acceptance.conftest import Stack
from tests.support.fake_agent import FakeAgent
from tests.support.ws_proxy import WsProxy

# A reconnect takes well under this; the ack timeout (3 s here) is what must not fire.
LONG_SILENCE = {"RUNYARD_SCHEDULER_HEARTBEAT_MISSES": "40"}


async def test_completion_of_a_task_still_queued_after_a_reconnect_is_applied(
    stack: Stack,
) -> None:
    """Defect 1: the agent lost its connection after ``task.assign`` and before its ack reached
    the server, reconnected listing the task, uploaded and completed it. The server must apply
    the completion (the ack is implied by the reconnect) instead of keeping the task ``queued``
    and spending a retry on attempt 2."""
    assert stack.server is not None
    stack.server.stop()
    stack.start_server(**LONG_SILENCE)
    agent = FakeAgent(stack.url, stack.team.agent_key, "fake-d1")
    await agent.connect()
    try:
        task_id = await asyncio.to_thread(stack.run, "sleep", {"seconds": 0})
        assign = await agent.expect("task.assign", timeout=20)
        assert assign["task_id"] == task_id and assign["attempt"] == 1
        await agent.drop()  # before the ack
        await agent.connect(running=[RunningTask(task_id=task_id, attempt=1)])
        body = b"done by attempt 1\n"
        grant = await agent.output_url(task_id, 1, "result", len(body))
        assert grant.get("upload_url"), f"no upload URL for attempt 1 after the reconnect: {grant}"
        async with httpx.AsyncClient() as http:
            put = await http.put(grant["upload_url"], content=body, headers=grant["upload_headers"])
        assert put.status_code == 200, put.text
        await agent.send(
            TaskComplete(
                task_id=task_id,
                attempt=1,
                outputs=[
                    OutputSpec(
                        output_id="result",
                        file_name="result.txt",
                        content_type="text/plain",
                        file_size=len(body),
                    )
                ],
            )
        )
        # Long enough for the 3 s ack timeout to have fired if the completion was dropped.
        deadline = time.monotonic() + 10
        task = await asyncio.to_thread(stack.task, task_id)
        while time.monotonic() < deadline and task["task_status"] != "completed":
            await asyncio.sleep(0.2)
            task = await asyncio.to_thread(stack.task, task_id)
        refusals = [f for f in agent.received if f.get("type", "").startswith("error.")]
        assert task["task_status"] == "completed" and task["retry_count"] == 0, (
            f"task {task_id}: task.complete of attempt 1 (sent after a reconnect listing it) "
            f"left the task {task['task_status']} with retry_count {task['retry_count']}; "
            f"attempts assigned to the agent {agent.assignments(task_id)}; "
            f"error frames {refusals}"
        )
        assert agent.assignments(task_id) == [1], (
            f"task {task_id} was assigned again: attempts {agent.assignments(task_id)}"
        )
    finally:
        await agent.close()


def test_an_outcome_sent_just_before_the_server_dies_is_not_lost(stack: Stack) -> None:
    """Defect 2: a real agent sends ``task.complete`` and the server is killed (SIGKILL) before
    it handles the frame. After the restart the agent must deliver the outcome again (it keeps
    unacknowledged outcomes), so the task completes at attempt 1 with ``retry_count`` 0.

    The agent dials the server through a WebSocket proxy that, on the first ``task.complete``
    frame, holds it, kills the server and drops the agent's connection: from the agent's side,
    the frame was sent."""
    assert stack.server is not None
    server = stack.server

    def kill_server(frame: dict[str, object]) -> None:
        server.signal(signal.SIGKILL)
        server.stop()  # reaps it and closes its log

    proxy = WsProxy(stack.url, on_first={"task.complete": kill_server})
    proxy.start()
    try:
        stack.start_agent("d2", extra=["--server", proxy.url])
        stack.wait_agent("d2")
        task_id = stack.run("sleep", {"seconds": 0.5})
        assert proxy.fired.wait(40), "the agent never sent task.complete"
        held = proxy.held[0]
        assert held["task_id"] == task_id and held["attempt"] == 1, held
        stack.start_server(**LONG_SILENCE)
        done = stack.wait_task(task_id, timeout=60)
        url = ""
        if done["task_status"] == "completed":
            result = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers())
            url = str(result.json().get("download_url") or "")
        assert done["task_status"] == "completed" and done["retry_count"] == 0, (
            f"task {task_id}: attempt 1 completed on the agent and its task.complete was sent "
            f"just before the server died; after the restart the task is "
            f"{done['task_status']} with retry_count {done['retry_count']} "
            f"{done.get('task_error_code') or ''} {done.get('task_error') or ''}"
        )
        assert f"/{task_id}/1/" in url, f"the result is not attempt 1's output: {url}"
    finally:
        proxy.stop()
