"""Live previews: the real agent and its ComfyUI runtime against the ComfyUI stand-in (which
sends binary JPEG preview frames as ComfyUI does) and the scripted server."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from runyard_protocol import (
    MAX_PREVIEW_BYTES,
    AssignedWorkflow,
    TaskAssign,
    TaskComplete,
    TaskPreview,
    TaskProgress,
)
from tests.support.s3 import free_port

# EmptyImage -> ImageBlur (4 progress steps, each followed by a preview frame) -> SaveImage.
GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0x3366CC},
    },
    "2": {
        "class_type": "ImageBlur",
        "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 1.0},
    },
    "9": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "p"}},
}


@pytest.fixture
def start_standin(tmp_path: Path) -> Iterator[Callable[..., str]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "runyard_testing.comfyui_standin", "--port", str(port)]
            + ["--data-dir", str(tmp_path / f"standin-{port}"), *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/queue", timeout=1)
                return url
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def comfy_assign() -> TaskAssign:
    return TaskAssign(
        task_id="task-1",
        attempt=1,
        workflow=AssignedWorkflow(
            id="wf-1", slug="wf", version=1, tool_type="comfyui", workflow_json=GRAPH
        ),
        parameters={},
    )


async def test_previews_arrive_throttled_as_jpeg(server, start_agent, start_standin):
    # ImageBlur: 4 steps 0.3 s apart, a preview after each; at most one per 0.5 s goes out.
    url = start_standin("--node-delay", "1.2", "--preview-size", "48")
    await start_agent(comfyui_url=url, labels=["comfyui"], comfyui_preview_interval=0.5)
    await server.assign(comfy_assign())
    await server.wait_for(TaskComplete, timeout=30)
    previews = server.of_type(TaskPreview, task_id="task-1")
    assert 1 <= len(previews) <= 3
    for preview in previews:
        assert (preview.attempt, preview.content_type, preview.node) == (1, "image/jpeg", "2")
        image = Image.open(io.BytesIO(base64.b64decode(preview.data)))
        assert (image.format, image.size) == ("JPEG", (512, 512))  # scaled to fit 512 x 512
    kinds = [type(f) for f in server.frames if getattr(f, "task_id", None) == "task-1"]
    assert kinds.index(TaskPreview) < kinds.index(TaskComplete)
    assert server.of_type(TaskProgress, task_id="task-1")[-1].progress == 1.0


async def test_previews_over_the_bound_are_skipped(server, start_agent, start_standin):
    # ComfyUI started with --preview-size 1024 sends an 800 x 800 preview as is: JPEGs > 256 KiB.
    url = start_standin(
        "--node-delay", "0.4", "--preview-size", "800", "--max-preview-size", "1024"
    )
    await start_agent(comfyui_url=url, labels=["comfyui"], comfyui_preview_interval=0.05)
    await server.assign(comfy_assign())
    await server.wait_for(TaskComplete, timeout=30)
    assert server.of_type(TaskPreview) == []
    assert MAX_PREVIEW_BYTES == 256 * 1024


async def test_no_previews_with_interval_zero(server, start_agent, start_standin):
    url = start_standin("--node-delay", "0.4", "--preview-size", "32")
    await start_agent(comfyui_url=url, labels=["comfyui"], comfyui_preview_interval=0)
    await server.assign(comfy_assign())
    await server.wait_for(TaskComplete, timeout=30)
    assert server.of_type(TaskPreview) == []


async def test_a_server_without_previews_is_not_sent_more(
    server, start_agent, start_standin, caplog
):
    server.refuse_previews = True
    url = start_standin("--node-delay", "1.2", "--preview-size", "32")
    await start_agent(comfyui_url=url, labels=["comfyui"], comfyui_preview_interval=0.1)
    await server.assign(comfy_assign())
    complete = await server.wait_for(TaskComplete, timeout=30)
    assert complete.task_id == "task-1"
    assert len(server.of_type(TaskPreview)) == 1  # refused once, then none on this connection
    assert "refused a frame" not in caplog.text
