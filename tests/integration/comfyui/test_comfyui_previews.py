"""Live previews at the runtime: the stand-in sends binary JPEG frames as ComfyUI does; the
session hands each to ``ctx.preview`` with the running node, never mixing them with the images
SaveImageWebsocket sends (those stay outputs), and decodes nothing when previews are off."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from comfyui_helpers import Standin, make_ctx, workflow
from PIL import Image

from runyard_agent.runtimes.base import PreviewImage
from runyard_agent.runtimes.comfyui import ComfyUIRuntime

GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 6, "batch_size": 2, "color": 0x00FF00},
    },
    "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 1}},
    "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["2", 0]}},
}


async def test_sampler_previews_reach_ctx_preview_and_outputs_stay_apart(
    start_standin: Callable[..., Standin], tmp_path: Path
) -> None:
    standin = start_standin("--preview-size", "40")
    runtime = ComfyUIRuntime(standin.url, http_timeout=10, reconnect_wait=3, poll_interval=0.2)
    try:
        ctx, _ = make_ctx(tmp_path)
        seen: list[PreviewImage] = []
        ctx.preview = seen.append
        outputs = await runtime.run(workflow(GRAPH), ctx)
    finally:
        await runtime.close()
    assert len(seen) == 4  # one per ImageBlur step
    for preview in seen:
        assert (preview.content_type, preview.node) == ("image/jpeg", "2")
        with Image.open(io.BytesIO(preview.data)) as image:
            # A 40 x 40 preview, scaled as ComfyUI scales every preview to fit 512 x 512.
            assert (image.format, image.size) == ("JPEG", (512, 512))
    assert [o.output_id for o in outputs] == ["3.images.0", "3.images.1"]
    for output in outputs:
        with Image.open(output.path) as image:
            assert (image.format, image.size) == ("PNG", (8, 6))


async def test_previews_off_leave_the_run_as_before(
    start_standin: Callable[..., Standin], tmp_path: Path
) -> None:
    standin = start_standin("--preview-size", "40")
    runtime = ComfyUIRuntime(standin.url, http_timeout=10, reconnect_wait=3, poll_interval=0.2)
    try:
        ctx, recorder = make_ctx(tmp_path)
        assert ctx.preview is None
        outputs = await runtime.run(workflow(GRAPH), ctx)
    finally:
        await runtime.close()
    assert len(outputs) == 2
    assert recorder.reports[-1].progress == 1.0
