"""The Python SDK against a real `runyard dev` server: file on disk to downloaded outputs."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from runyard_client import AsyncClient, Client, NotFoundError
from tests.acceptance.test_seed import one_mib_png


def test_sync_client_journey(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    photo = tmp / "photo.png"
    original = one_mib_png(photo)
    with Client(creds["server_url"], creds["integration_key"], use_profile=False) as client:
        task = client.run("img2img", {"input_image": photo, "prompt": "grayscale", "strength": 1})
        seen: list[float] = []
        info = task.wait(timeout=60, on_progress=lambda e: seen.append(e.progress or 0.0))
        assert info.task_status == "completed"
        result = task.result()
        assert result.download_url
        files = task.download(tmp / "out")
        # every output carries the sha256 the agent hashed while uploading; download checks it
        assert result.task_output is not None
        assert (
            result.task_output.outputs[0].sha256
            == hashlib.sha256(files[0].read_bytes()).hexdigest()
        )
        image = Image.open(io.BytesIO(files[0].read_bytes()))
        assert image.format == "PNG" and files[0].read_bytes() != original
        assert image.convert("RGB").getpixel((0, 0))[0] == image.convert("RGB").getpixel((0, 0))[1]
        with pytest.raises(NotFoundError):
            client.tasks.get("00000000-0000-7000-8000-000000000000")


def test_async_client_cancel(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    (tmp / "a.txt").write_text("x")

    async def go() -> tuple[str, str]:
        async with AsyncClient(
            creds["server_url"], creds["device_key"], use_profile=False
        ) as client:
            await client.workflows.import_(
                {
                    "workflow_slug": "echo-gpu",
                    "tool_type": "python",
                    "required_labels": ["gpu"],
                    "workflow_json": {"entrypoint": "runyard_agent.builtins.echo:run"},
                    "parameters": [{"key": "input_file", "type": "file", "required": True}],
                }
            )
            task = await client.run("echo-gpu", {"input_file": tmp / "a.txt"})
            before = (await client.tasks.get(task.id)).task_status
            await task.cancel()
            info = await task.wait(timeout=30)
            return str(before), str(info.task_status)

    before, after = asyncio.run(go())
    assert before in ("pending", "waiting") and after == "cancelled"  # no gpu agent here
