"""Live previews on the server: a ``task.preview.v1`` of the current attempt is kept (in the
memory of the agent's server process) and served at ``/r/tasks/{id}/preview`` with its content
type and ``Cache-Control: no-store``, announced by a ``preview`` event; a stale attempt's is
refused; another team's task and a task without a preview answer 404."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx
import pytest
from PIL import Image

from runyard_protocol import TaskAck, TaskCancelled, TaskPreview
from tests.acceptance.conftest import Stack
from tests.support.fake_agent import FakeAgent


def jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def preview(task_id: str, attempt: int, data: bytes) -> TaskPreview:
    return TaskPreview(
        task_id=task_id,
        attempt=attempt,
        content_type="image/jpeg",
        data=base64.b64encode(data).decode(),
        node="3",
    )


async def wait_preview(stack: Stack, task_id: str, body: bytes) -> httpx.Response:
    url = f"{stack.base}/tasks/{task_id}/preview"
    async with httpx.AsyncClient(headers=stack.headers(), timeout=10) as http:
        for _ in range(100):
            r = await http.get(url)
            if r.status_code == 200 and r.content == body:
                return r
            await asyncio.sleep(0.05)
    raise AssertionError(f"no preview: {r.status_code} {r.text[:200]}")


@pytest.mark.parametrize("stack", ["e2e-sqlite-local"], indirect=True)
async def test_latest_preview_is_served_fenced_and_team_scoped(stack: Stack) -> None:
    assert stack.other_team is not None
    agent = FakeAgent(stack.url, stack.team.agent_key, "previewer")
    await agent.connect()
    try:
        task_id = await asyncio.to_thread(stack.run, "sleep", {"seconds": 60})
        assign = await agent.expect("task.assign", timeout=20)
        assert assign["task_id"] == task_id
        await agent.send(TaskAck(task_id=task_id, attempt=1))
        url = f"{stack.base}/tasks/{task_id}/preview"

        none_yet = httpx.get(url, headers=stack.headers(), timeout=10)
        assert none_yet.status_code == 404
        assert none_yet.json()["error_code"] == "preview_not_found"

        first, second = jpeg((200, 30, 30)), jpeg((30, 200, 30))
        await agent.send(preview(task_id, 1, first))
        await wait_preview(stack, task_id, first)
        await agent.send(preview(task_id, 1, second))
        r = await wait_preview(stack, task_id, second)  # only the latest is kept
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["cache-control"] == "no-store"

        # Another attempt than the current one: refused, the preview stays as it was.
        await agent.send(preview(task_id, 2, first))
        refusal = await agent.expect("error", timeout=10)
        assert (refusal["error_code"], refusal["task_id"]) == ("stale_attempt", task_id)
        assert httpx.get(url, headers=stack.headers(), timeout=10).content == second

        # Another team's credentials: the task does not exist for them.
        theirs = httpx.get(url, headers=stack.headers(stack.other_team.integration_key))
        assert theirs.status_code == 404
        assert theirs.json()["error_code"] == "task_not_found"

        # The task ends: the preview is gone, and the stream announced it with its URL.
        cancel = httpx.post(f"{stack.base}/tasks/{task_id}/cancel", headers=stack.headers())
        assert cancel.status_code == 200, cancel.text
        while (await agent.expect("task.cancel", timeout=10))["attempt"] != 1:
            pass  # the stale attempt 2's preview was also answered with a "dropped" cancel
        await agent.send(TaskCancelled(task_id=task_id, attempt=1))
        await asyncio.to_thread(stack.wait_task, task_id, ("cancelled",))
        gone = httpx.get(url, headers=stack.headers(), timeout=10)
        assert gone.status_code == 404 and gone.json()["error_code"] == "preview_not_found"
        events = httpx.get(f"{url.removesuffix('/preview')}/events", headers=stack.headers())
        previews = [
            json.loads(block.split("data: ", 1)[1])
            for block in events.text.split("\n\n")
            if block.startswith("event: preview") or "\nevent: preview" in block
        ]
        assert previews, events.text
        assert previews[0]["preview_url"] == f"/api/v1/r/tasks/{task_id}/preview"
        assert (previews[0]["content_type"], previews[0]["current_node"]) == ("image/jpeg", "3")
    finally:
        await agent.close()
