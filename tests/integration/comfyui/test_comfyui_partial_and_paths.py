"""Issue 21 defects in the runtime: silent partial outputs, server paths in error text."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from comfyui_helpers import Standin, make_ctx, png_bytes, workflow

from runyard_agent.runtimes.base import TaskCancelledError, TaskFailedError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime

PHOTO = png_bytes((40, 90, 160))
PARAMETERS: list[dict[str, Any]] = [
    {"key": "input_image", "type": "file", "node_id": "1", "field": "image"},
    {"key": "radius", "type": "number", "node_id": "3", "field": "blur_radius"},
]


def two_outputs() -> dict[str, Any]:
    """LoadImage → SaveImage, and LoadImage → ImageBlur (radius bound) → SaveImage."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}},
        "3": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0},
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "b"}},
    }


async def _queue_empty(standin: Standin) -> None:
    for _ in range(200):
        queue = standin.get("/queue")
        if not queue["queue_running"] and not queue["queue_pending"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("ComfyUI still has the prompt")


async def test_outputs_skipped_by_validation_fail_the_task_naming_the_node(
    runtime: ComfyUIRuntime, standin: Standin, tmp_path: Path
) -> None:
    # ComfyUI answers 200 with node_errors for the blur branch (99 > its max of 31) and would
    # run only the other SaveImage: that must not complete with one output.
    ctx, _ = make_ctx(
        tmp_path, {"input_image": "k", "radius": 99}, {"input_image": ("p.png", PHOTO)}
    )
    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(two_outputs(), PARAMETERS), ctx)
    assert caught.value.code == "comfyui_validation_failed"
    message = str(caught.value)
    assert "node 3 (ImageBlur)" in message and "blur_radius" in message
    assert "output node(s) 4" in message
    # The rest of the prompt is stopped, or removed from the queue (it may have finished first).
    await _queue_empty(standin)


async def test_a_workflow_may_opt_in_to_partial_outputs(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(
        tmp_path, {"input_image": "k", "radius": 99}, {"input_image": ("p.png", PHOTO)}
    )
    wrapped = {"graph": two_outputs(), "allow_partial_outputs": True}
    outputs = await runtime.run(workflow(wrapped, PARAMETERS), ctx)
    assert [o.output_id for o in outputs] == ["2.images.0"]
    messages = [r.message for r in recorder.reports if r.message]
    assert any("skipped output node(s) 4" in m and "node 3 (ImageBlur)" in m for m in messages)


async def test_error_text_shows_file_names_not_comfyui_server_paths(
    runtime: ComfyUIRuntime, standin: Standin, tmp_path: Path
) -> None:
    # Passes validation (the file is there) but is no image: PIL names the full server path.
    ctx, _ = make_ctx(
        tmp_path, {"input_image": "k"}, {"input_image": ("broken.png", b"not an image")}
    )
    graph = two_outputs()
    del graph["3"], graph["4"]
    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(graph, PARAMETERS[:1]), ctx)
    message = str(caught.value)
    assert caught.value.code == "comfyui_execution_error"
    assert "broken.png" in message
    assert str(standin.data_dir) not in message and "/input/" not in message
    httpx.get(standin.url + "/queue").raise_for_status()


async def test_an_interrupt_from_comfyuis_own_ui_stops_the_run_as_cancelled(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(
        tmp_path, {"input_image": "k", "radius": 3}, {"input_image": ("p.png", PHOTO)}
    )
    # The UI's Cancel button posts /interrupt without a prompt id; the agent never asked.
    recorder.hooks.append(
        lambda report: (
            httpx.post(slow_standin.url + "/interrupt", json={})
            if report.current_node == "3"
            else None
        )
    )
    graph = two_outputs()
    del graph["2"]
    with pytest.raises(TaskCancelledError) as caught:
        await slow_runtime.run(workflow(graph, PARAMETERS), ctx)
    assert "ComfyUI interrupted the prompt at node 3 (ImageBlur)" in str(caught.value)
    assert not ctx.cancelled
