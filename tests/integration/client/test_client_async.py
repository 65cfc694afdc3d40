"""``AsyncClient`` against the real app over ``httpx.ASGITransport``."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from runyard_client import AsyncClient, AsyncTask, InvalidParameters, NotFoundError, TaskEvent
from tests.support.app import Harness, Team


async def test_async_upload_run_and_task_handle(
    aclient: AsyncClient, tmp_path: Path, alpha: Team
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG" + b"0123456789" * 500)
    sent: list[int] = []
    key = await aclient.upload(photo, progress=lambda s, t: sent.append(s))
    assert key.startswith(f"inputs/{alpha.id}/") and sent[-1] == photo.stat().st_size
    task = await aclient.run("echo", {"input_file": photo}, idempotency_key="a-1")
    assert isinstance(task, AsyncTask)
    info = await task.refresh()
    assert info.task_status == "pending" and info.parameters["input_file"].endswith("photo.png")
    again = await aclient.run(
        "echo", {"input_file": info.parameters["input_file"]}, idempotency_key="a-2"
    )
    assert again.id != task.id
    page = await aclient.tasks.list()
    assert {t.id for t in page.items} == {task.id, again.id}
    result = await task.result()
    assert result.task_output is None and result.task_status == "pending"
    assert (await task.cancel()).is_success
    assert (await aclient.tasks.get(task.id)).task_status == "cancelled"


async def test_async_errors(aclient: AsyncClient, app_harness: Harness) -> None:
    with pytest.raises(NotFoundError) as caught:
        await aclient.tasks.result(str(uuid.uuid4()))
    assert caught.value.error_code == "task_not_found"
    with pytest.raises(InvalidParameters) as bad:
        await aclient.run("echo", {"input_file": "inputs/nope/nope/x.png"})
    assert bad.value.errors and bad.value.errors[0]["parameter"] == "input_file"


async def test_wait_reads_the_real_event_stream_of_a_cancelled_task(
    aclient: AsyncClient, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG")
    task = await aclient.run("echo", {"input_file": photo})
    await task.cancel()
    seen: list[TaskEvent] = []
    # ASGITransport buffers a response until the app finishes it, so only a task whose stream
    # ends (a terminal one) can be followed in-process; wait_for guards against a hang.
    info = await asyncio.wait_for(task.wait(on_progress=seen.append), 20)
    assert info.task_status == "cancelled" and seen[-1].event == "cancelled"
    assert seen[-1].id is not None  # from the SSE stream, not the polling fallback
