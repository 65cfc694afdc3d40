"""ComfyUIRuntime against the stand-in running as a real process."""

from __future__ import annotations

import asyncio
import io
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from comfyui_helpers import (
    INVERT_PARAMETERS,
    Standin,
    invert_graph,
    make_ctx,
    png_bytes,
    workflow,
)
from PIL import Image

from runyard_agent.runtimes.base import TaskCancelledError, TaskFailedError
from runyard_agent.runtimes.comfyui import ComfyUIRuntime

PHOTO = png_bytes((40, 90, 160))
DECOY = png_bytes((250, 250, 0))


def _pixels(data: bytes) -> list[Any]:
    with Image.open(io.BytesIO(data)) as image:
        return list(image.convert("RGB").getdata())


def comfy_inverted(value: int) -> int:
    """ComfyUI's LoadImage → ImageInvert → SaveImage for one channel value: float32 all along
    (``v / 255.0``, ``1.0 - x``, ``255. * y``), then ``astype(np.uint8)`` truncates."""
    (x,) = array("f", [value / 255.0])
    (y,) = array("f", [1.0 - x])
    (z,) = array("f", [255.0 * y])
    return min(255, max(0, int(z)))


def _prompt_entries(standin: Standin) -> list[dict[str, Any]]:
    return list(standin.history().values())


async def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def test_invert_uses_renamed_upload_and_returns_the_inverted_png(
    runtime: ComfyUIRuntime, standin: Standin, tmp_path: Path
) -> None:
    # Another upload already holds the name: ComfyUI renames ours and the graph must follow.
    httpx.post(
        standin.url + "/upload/image", files={"image": ("photo.png", DECOY)}
    ).raise_for_status()
    ctx, recorder = make_ctx(
        tmp_path,
        parameters={"input_image": "file-key-1", "filename_prefix": "probe/inverted"},
        files={"input_image": ("photo.png", PHOTO)},
    )

    outputs = await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)

    assert [o.output_id for o in outputs] == ["9.images.0"]
    output = outputs[0]
    assert output.content_type == "image/png"
    assert output.file_name == "inverted_00001_.png"
    assert output.path.parent == ctx.output_dir
    with Image.open(io.BytesIO(PHOTO)) as source:
        expected = [tuple(comfy_inverted(c) for c in p) for p in source.convert("RGB").getdata()]
    assert _pixels(output.path.read_bytes()) == expected
    # ComfyUI's float32 path truncates: not what a uint8 inversion gives, for most values.
    assert sum(comfy_inverted(v) != 255 - v for v in range(256)) == 159

    [entry] = _prompt_entries(standin)
    sent_graph = entry["prompt"][2]
    assert sent_graph["1"]["inputs"]["image"] == "photo (1).png"
    assert sent_graph["9"]["inputs"]["filename_prefix"] == "probe/inverted"
    assert entry["outputs"]["9"]["images"][0]["subfolder"] == "probe"

    nodes = {r.current_node for r in recorder.reports}
    assert {"1", "2", "9"} <= nodes
    assert any(r.current_node == "2" and r.message == "ImageInvert" for r in recorder.reports)
    fractions = [r.progress for r in recorder.reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert all(f < 1.0 for f in fractions[:-1])


async def test_batch_and_preview_outputs_in_graph_order(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    graph = {
        "5": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 4, "batch_size": 2, "color": 0xFF0000},
        },
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "b"}},
    }
    ctx, _ = make_ctx(tmp_path)

    outputs = await runtime.run(workflow(graph), ctx)

    assert [o.output_id for o in outputs] == [
        "7.images.0",
        "7.images.1",
        "6.images.0",
        "6.images.1",
    ]
    assert [o.file_name for o in outputs[2:]] == ["b_00001_.png", "b_00002_.png"]
    assert len({o.path for o in outputs}) == 4
    assert _pixels(outputs[3].path.read_bytes())[0] == (255, 0, 0)


async def test_progress_reports_steps_of_a_node_that_reports_them(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})

    await runtime.run(workflow(invert_graph(blur=True), INVERT_PARAMETERS), ctx)

    blur = [r for r in recorder.reports if r.current_node == "3" and r.step_total]
    assert [r.step_current for r in blur] == [1, 2, 3, 4]
    assert {r.step_total for r in blur} == {4}
    assert all(r.message == "ImageBlur" for r in blur)
    # 2 of 4 nodes done, then the blur's own steps refine the fraction.
    assert [r.progress for r in blur] == [0.5625, 0.625, 0.6875, 0.75]


async def test_validation_error_names_node_class_and_input(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    parameters = [
        *INVERT_PARAMETERS,
        {"key": "radius", "type": "number", "node_id": "3", "field": "blur_radius"},
    ]
    ctx, recorder = make_ctx(
        tmp_path, parameters={"radius": 40}, files={"input_image": ("p.png", PHOTO)}
    )

    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(invert_graph(blur=True), parameters), ctx)

    assert caught.value.code == "comfyui_validation_failed"
    assert "node 3 (ImageBlur): blur_radius: Value 40 bigger than max of 31" in str(caught.value)
    assert recorder.reports == []


async def test_load_image_of_a_file_never_uploaded_is_a_validation_error(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    ctx, _ = make_ctx(tmp_path)

    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(invert_graph()), ctx)

    assert caught.value.code == "comfyui_validation_failed"
    assert "node 1 (LoadImage): image:" in str(caught.value)
    assert "Invalid image file: placeholder.png" in str(caught.value)


async def test_unknown_node_class_is_a_validation_error(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    graph = {"1": {"class_type": "KSamplerDeluxe", "inputs": {}}}
    ctx, _ = make_ctx(tmp_path)

    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(graph), ctx)

    assert caught.value.code == "comfyui_validation_failed"
    assert "KSamplerDeluxe does not exist" in str(caught.value)
    assert "#1" in str(caught.value)


async def test_runtime_error_names_node_class_and_exception(
    runtime: ComfyUIRuntime, standin: Standin, tmp_path: Path
) -> None:
    # SaveImage refuses, at run time, a prefix that leaves the output folder (as ComfyUI does).
    ctx, _ = make_ctx(
        tmp_path,
        parameters={"filename_prefix": "../escape"},
        files={"input_image": ("p.png", PHOTO)},
    )

    with pytest.raises(TaskFailedError) as caught:
        await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)

    assert caught.value.code == "comfyui_execution_error"
    message = str(caught.value)
    assert message.startswith("ComfyUI failed at node 9 (SaveImage): Exception: ")
    assert "Saving image outside the output folder is not allowed" in message
    [entry] = _prompt_entries(standin)
    assert entry["status"]["status_str"] == "error"


async def test_cancel_event_mid_run_interrupts_the_prompt(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    recorder.hooks.append(
        lambda report: ctx.cancel_event.set() if report.current_node == "3" else None
    )

    with pytest.raises(TaskCancelledError):
        await slow_runtime.run(workflow(invert_graph(blur=True), INVERT_PARAMETERS), ctx)

    def interrupted() -> bool:
        entries = _prompt_entries(slow_standin)
        return bool(entries) and entries[0]["status"]["messages"][-1][0] == "execution_interrupted"

    await _wait_until(interrupted)
    [entry] = _prompt_entries(slow_standin)
    assert entry["status"]["messages"][-1][1]["node_id"] == "3"
    assert "9" not in entry["outputs"]


async def test_cancelling_the_asyncio_task_interrupts_the_prompt(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    task = asyncio.create_task(
        slow_runtime.run(workflow(invert_graph(blur=True), INVERT_PARAMETERS), ctx)
    )
    await _wait_until(lambda: any(r.current_node == "2" for r in recorder.reports))

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    def interrupted() -> bool:
        entries = _prompt_entries(slow_standin)
        return bool(entries) and entries[0]["status"]["messages"][-1][0] == "execution_interrupted"

    await _wait_until(interrupted)


async def test_cancel_of_a_pending_prompt_deletes_it_from_the_queue(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    # Someone else's prompt keeps ComfyUI busy, so ours waits in the queue.
    blocker = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": 7},
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    httpx.post(slow_standin.url + "/prompt", json={"prompt": blocker}).raise_for_status()
    ctx, _ = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    task = asyncio.create_task(slow_runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx))
    await _wait_until(lambda: len(slow_standin.get("/queue")["queue_pending"]) == 1)

    ctx.cancel_event.set()
    with pytest.raises(TaskCancelledError):
        await task

    queue = slow_standin.get("/queue")
    assert queue["queue_pending"] == []
    assert len(queue["queue_running"]) == 1  # the blocker runs on, untouched
    await _wait_until(lambda: len(_prompt_entries(slow_standin)) == 1)
    # The blocker is done and nothing follows it: ours never ran.
    assert slow_standin.get("/queue") == {"queue_running": [], "queue_pending": []}


async def test_cached_rerun_still_returns_the_output(
    runtime: ComfyUIRuntime, standin: Standin, tmp_path: Path
) -> None:
    run_workflow = workflow(invert_graph(), INVERT_PARAMETERS)
    first_ctx, _ = make_ctx(tmp_path / "a", files={"input_image": ("p.png", PHOTO)})
    first = await runtime.run(run_workflow, first_ctx)
    second_ctx, recorder = make_ctx(tmp_path / "b", files={"input_image": ("p.png", PHOTO)})

    second = await runtime.run(run_workflow, second_ctx)

    assert [o.output_id for o in second] == ["9.images.0"]
    assert second[0].file_name == first[0].file_name  # the old file, replayed
    assert second[0].path.read_bytes() == first[0].path.read_bytes()
    entries = _prompt_entries(standin)
    cached = entries[1]["status"]["messages"][1]
    assert cached[0] == "execution_cached" and sorted(cached[1]["nodes"]) == ["1", "2", "9"]
    assert recorder.reports[-1].progress == 1.0


async def test_unknown_messages_and_binary_frames_are_ignored(
    start_standin: Callable[..., Standin], tmp_path: Path
) -> None:
    chatty = start_standin("--extra-messages")
    runtime = ComfyUIRuntime(chatty.url, http_timeout=10)
    ctx, _ = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    try:
        outputs = await runtime.run(workflow(invert_graph(blur=True), INVERT_PARAMETERS), ctx)
    finally:
        await runtime.close()
    assert [o.output_id for o in outputs] == ["9.images.0"]


async def test_socket_drop_mid_run_reconnects_and_finishes(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    task = asyncio.create_task(slow_runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx))
    await _wait_until(lambda: any(r.current_node == "1" for r in recorder.reports))

    async with httpx.AsyncClient() as client:
        dropped = (await client.post(slow_standin.url + "/_standin/drop_sockets")).json()
    assert dropped["dropped"] >= 1
    outputs = await task

    assert [o.output_id for o in outputs] == ["9.images.0"]
    assert any(r.current_node == "9" for r in recorder.reports)  # followed after reconnecting


async def test_comfyui_gone_mid_run_fails_with_connection_lost(
    slow_runtime: ComfyUIRuntime, slow_standin: Standin, tmp_path: Path
) -> None:
    ctx, recorder = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    task = asyncio.create_task(slow_runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx))
    await _wait_until(lambda: any(r.current_node == "1" for r in recorder.reports))

    await asyncio.to_thread(slow_standin.stop)
    with pytest.raises(TaskFailedError) as caught:
        await asyncio.wait_for(task, timeout=15)

    assert caught.value.code == "comfyui_connection_lost"
    assert "did not come back within 3s" in str(caught.value)


async def test_unreachable_comfyui_fails_before_anything_runs(tmp_path: Path) -> None:
    runtime = ComfyUIRuntime("http://127.0.0.1:9", http_timeout=2)
    ctx, _ = make_ctx(tmp_path, files={"input_image": ("p.png", PHOTO)})
    try:
        with pytest.raises(TaskFailedError) as caught:
            await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)
    finally:
        await runtime.close()
    assert caught.value.code == "comfyui_unreachable"


async def test_health_reports_system_stats(runtime: ComfyUIRuntime) -> None:
    health = await runtime.health()

    assert health.healthy
    info = health.system_info
    assert info["comfyui_version"] == "0.3.64"
    assert info["pytorch_version"] and info["python_version"]
    assert info["ram_total"] >= info["ram_free"] > 0
    assert info["devices"][0]["type"] == "cpu"
    assert set(info["devices"][0]) == {"name", "type", "vram_total", "vram_free"}


async def test_health_is_false_when_system_stats_fails(
    start_standin: Callable[..., Standin],
) -> None:
    failing = start_standin("--fail-health")
    runtime = ComfyUIRuntime(failing.url)
    try:
        health = await runtime.health()
    finally:
        await runtime.close()
    assert not health.healthy
    assert "500" in health.detail


async def test_health_is_false_when_comfyui_is_stopped(
    runtime: ComfyUIRuntime, standin: Standin
) -> None:
    assert (await runtime.health()).healthy
    standin.stop()

    health = await runtime.health()

    assert not health.healthy
    assert "unreachable" in health.detail


async def test_the_documented_example_workflow_runs(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    example = Path(__file__).parents[3] / "examples" / "comfyui-invert.yaml"
    definition = yaml.safe_load(example.read_text())
    assigned = workflow(definition["workflow_json"], definition["parameters"])
    defaults = {p["key"]: p["default"] for p in definition["parameters"] if "default" in p}
    ctx, _ = make_ctx(
        tmp_path,
        parameters={**defaults, "input_image": "file-key"},
        files={"input_image": ("cat.png", PHOTO)},
    )

    outputs = await runtime.run(assigned, ctx)

    assert [(o.output_id, o.file_name) for o in outputs] == [("9.images.0", "inverted_00001_.png")]
