"""Small outputs sent inside ``task.complete.v1`` (``OutputSpec.data``), offered by a server
whose store is the embedded one: they become results like uploaded ones; what is wrong with them
fails the task ``output_missing`` and leaves no object behind; a resent completion changes
nothing; an S3 server offers none and refuses them."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx

from runyard_protocol import (
    MAX_INLINE_OUTPUT,
    OutputSpec,
    RunningTask,
    TaskComplete,
)
from tests.acceptance.conftest import Stack, acked_sleep
from tests.support.fake_agent import FakeAgent, kind


def inline(
    output_id: str, body: bytes, *, size: int | None = None, data: str | None = None
) -> OutputSpec:
    return OutputSpec(
        output_id=output_id,
        file_name=f"{output_id}.txt",
        content_type="text/plain",
        file_size=len(body) if size is None else size,
        data=base64.b64encode(body).decode() if data is None else data,
    )


def objects(stack: Stack, task_id: str) -> list[str]:
    """The embedded store's files of the task's outputs."""
    root = Path(stack.env["RUNYARD_DATA_DIR"]) / "objects" / "outputs"
    return sorted(p.name for p in root.rglob("*") if p.is_file() and task_id in str(p))


async def test_inline_outputs_become_results_and_bad_ones_leave_nothing(stack: Stack) -> None:
    agent = FakeAgent(stack.url, stack.team.agent_key, "fake-inline")
    welcome = await agent.connect()

    async def take() -> str:
        return await acked_sleep(stack, agent)

    async def outcome(task_id: str) -> dict[str, object]:
        ack = await agent.expect("task.outcome.ack", timeout=20)
        assert ack["task_id"] == task_id
        return ack

    try:
        if stack.leg == "e2e-postgres-s3":
            # The server never carries file bytes with S3: not offered, and refused if sent.
            assert welcome["inline_output_max"] == 0
            task_id = await take()
            await agent.send(
                TaskComplete(task_id=task_id, attempt=1, outputs=[inline("result", b"abc")])
            )
            await outcome(task_id)
            task = await asyncio.to_thread(stack.wait_task, task_id)
            assert (task["task_status"], task["task_error_code"]) == ("failed", "output_missing")
            assert "not accepted by this server" in task["task_error"]
            return

        assert welcome["inline_output_max"] == MAX_INLINE_OUTPUT
        good = await take()
        first, second = b"first output\n", bytes(range(256)) * 3
        # One output uploaded through a URL, two inline: the result keeps the reported order.
        grant = await agent.output_url(good, 1, "uploaded", 4)
        async with httpx.AsyncClient() as http:
            r = await http.put(
                str(grant["upload_url"]), content=b"wxyz", headers=grant["upload_headers"]
            )
            assert r.status_code == 200, r.text
        uploaded = OutputSpec(
            output_id="uploaded",
            file_name="uploaded.txt",
            content_type="application/octet-stream",
            file_size=4,
        )
        done = TaskComplete(
            task_id=good, attempt=1, outputs=[inline("a", first), uploaded, inline("b", second)]
        )
        await agent.send(done)
        assert (await outcome(good))["result"] == "applied"
        task = await asyncio.to_thread(stack.wait_task, good)
        assert task["task_status"] == "completed", task
        result = httpx.get(f"{stack.base}/tasks/{good}/result", headers=stack.headers()).json()
        links = result["download_urls"]
        got = [
            (o["output_id"], httpx.get(links[o["output_id"]]).content)
            for o in result["task_output"]["outputs"]
        ]
        assert got == [("a", first), ("uploaded", b"wxyz"), ("b", second)]
        kept = objects(stack, good)
        assert len(kept) == 3

        # Resent (its acknowledgement lost): a duplicate, the outputs untouched.
        await agent.send(done)
        assert (await outcome(good))["result"] == "duplicate"
        assert objects(stack, good) == kept
        assert [httpx.get(links[k]).content for k in ("a", "uploaded", "b")] == [
            first,
            b"wxyz",
            second,
        ]

        # Resent over a new connection after the task was retried elsewhere: refused, nothing
        # written for the stale attempt.
        await agent.drop()
        await agent.connect(running=[RunningTask(task_id=good, attempt=1)])
        await agent.send(TaskComplete(task_id=good, attempt=1, outputs=[inline("c", b"late")]))
        assert (await outcome(good))["result"] == "duplicate"
        assert objects(stack, good) == kept

        # What is wrong fails the task and leaves no object.
        wrong = {
            "not valid base64": inline("r", b"", size=3, data="@@@@"),
            "is not 5 bytes long": inline("r", b"abc", size=5),
            "reported twice": inline("uploaded", b"abc"),
        }
        for why, bad in wrong.items():
            task_id = await take()
            outputs = [bad]
            if why == "reported twice":
                grant = await agent.output_url(task_id, 1, "uploaded", 4)
                async with httpx.AsyncClient() as http:
                    r = await http.put(
                        str(grant["upload_url"]), content=b"wxyz", headers=grant["upload_headers"]
                    )
                    assert r.status_code == 200
                outputs = [uploaded, bad]
            await agent.send(TaskComplete(task_id=task_id, attempt=1, outputs=outputs))
            await outcome(task_id)
            task = await asyncio.to_thread(stack.wait_task, task_id)
            assert (task["task_status"], task["task_error_code"]) == ("failed", "output_missing")
            assert why in task["task_error"], task["task_error"]
            left = objects(stack, task_id)
            assert left == (["0-uploaded.txt"] if why == "reported twice" else []), left
        assert all(kind(f) != "error" for f in agent.received), agent.received
    finally:
        await agent.close()
