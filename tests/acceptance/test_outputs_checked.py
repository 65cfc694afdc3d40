"""A completion is checked against what was granted and what is in the store: an agent that
reports an output it was never granted, did not upload, or with another size fails the task
``output_missing``; outputs granted on an earlier connection of the same attempt still count."""

from __future__ import annotations

import asyncio

import httpx

from runyard_protocol import OutputSpec, RunningTask, TaskComplete
from tests.acceptance.conftest import Stack, acked_sleep
from tests.support.fake_agent import FakeAgent


def spec(output_id: str, size: int) -> OutputSpec:
    return OutputSpec(
        output_id=output_id, file_name=f"{output_id}.txt", content_type="text/plain", file_size=size
    )


async def put(grant: dict[str, object], body: bytes) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.put(str(grant["upload_url"]), content=body, headers=grant["upload_headers"])  # type: ignore[arg-type]
    assert r.status_code == 200, r.text


async def test_completions_are_checked_against_grants_and_the_store(stack: Stack) -> None:
    agent = FakeAgent(stack.url, stack.team.agent_key, "fake-outputs")
    await agent.connect()
    body = b"0123456789"

    async def take() -> str:
        return await acked_sleep(stack, agent)

    try:
        never_granted = await take()
        await agent.send(TaskComplete(task_id=never_granted, attempt=1, outputs=[spec("ghost", 3)]))

        not_uploaded = await take()
        await agent.output_url(not_uploaded, 1, "result", len(body))
        await agent.send(
            TaskComplete(task_id=not_uploaded, attempt=1, outputs=[spec("result", len(body))])
        )

        other_size = await take()
        await put(await agent.output_url(other_size, 1, "result", len(body)), body)
        await agent.send(
            TaskComplete(task_id=other_size, attempt=1, outputs=[spec("result", len(body) + 1)])
        )

        # Granted and uploaded on one connection, completed on the next.
        across = await take()
        await put(await agent.output_url(across, 1, "result", len(body)), body)
        await agent.drop()
        await agent.connect(running=[RunningTask(task_id=across, attempt=1)])
        await agent.send(
            TaskComplete(task_id=across, attempt=1, outputs=[spec("result", len(body))])
        )

        expected = {
            never_granted: "'ghost' was never granted an upload URL",
            not_uploaded: "'result' is missing from the store",
            other_size: "'result' size differs from its upload URL",
        }
        for task_id, why in expected.items():
            task = await asyncio.to_thread(stack.wait_task, task_id)
            assert (task["task_status"], task["task_error_code"]) == ("failed", "output_missing")
            assert why in task["task_error"], task["task_error"]
        done = await asyncio.to_thread(stack.wait_task, across)
        assert done["task_status"] == "completed" and done["retry_count"] == 0, done
        result = httpx.get(f"{stack.base}/tasks/{across}/result", headers=stack.headers())
        assert httpx.get(result.json()["download_url"]).content == body
    finally:
        await agent.close()
