"""Outputs beyond image files: text values, websocket images, VHS gifs, animated and video."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from comfyui_helpers import Standin, make_ctx, workflow
from PIL import Image

from runyard_agent.runtimes.comfyui import ComfyUIRuntime


def _empty(batch: int, color: int) -> dict[str, Any]:
    return {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 6, "batch_size": batch, "color": color},
    }


async def test_text_websocket_images_gifs_animated_and_video(
    runtime: ComfyUIRuntime, tmp_path: Path
) -> None:
    graph = {
        "1": _empty(2, 0x0000FF),
        "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
        "3": {"class_type": "PrimitiveString", "inputs": {"value": "a caption"}},
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}},
        "5": {
            "class_type": "VHS_VideoCombine",
            "inputs": {
                "images": ["1", 0],
                "frame_rate": 8.0,
                "loop_count": 0,
                "filename_prefix": "clip",
                "format": "image/gif",
                "pingpong": False,
                "save_output": True,
            },
        },
        "6": {
            "class_type": "SaveAnimatedPNG",
            "inputs": {"images": ["1", 0], "filename_prefix": "a", "fps": 6.0, "compress_level": 4},
        },
        "7": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 24.0}},
        "8": {
            "class_type": "SaveVideo",
            "inputs": {
                "video": ["7", 0],
                "filename_prefix": "video/v",
                "format": "auto",
                "codec": "auto",
            },
        },
    }
    ctx, _ = make_ctx(tmp_path)
    outputs = await runtime.run(workflow(graph), ctx)
    by_id = {o.output_id: o for o in outputs}
    assert list(by_id) == [
        "5.gifs.0",
        "6.images.0",
        "8.images.0",
        "2.images.0",
        "2.images.1",
    ]
    assert by_id["5.gifs.0"].content_type == "image/gif"
    assert by_id["6.images.0"].file_name == "a_00001_.png"
    assert by_id["8.images.0"].content_type == "video/mp4"
    assert by_id["8.images.0"].file_name == "v_00001_.mp4"
    websocket = by_id["2.images.1"]
    assert websocket.content_type == "image/png"
    with Image.open(io.BytesIO(websocket.path.read_bytes())) as image:
        assert image.size == (8, 6) and image.convert("RGB").getpixel((0, 0)) == (0, 0, 255)
    assert ctx.values == {"4.text.0": "a caption"}  # "animated" flags are not values


async def test_health_reports_node_classes_and_models_for_preflight(
    standin: Standin, tmp_path: Path
) -> None:
    (standin.data_dir / "models" / "checkpoints" / "sd15.safetensors").write_bytes(b"w")
    runtime = ComfyUIRuntime(standin.url, http_timeout=10, capabilities_refresh=0)
    try:
        info = (await runtime.health()).system_info
        assert {"SaveImage", "PreviewAny", "CheckpointLoaderSimple"} <= set(info["node_classes"])
        assert info["models"]["checkpoints"] == ["sd15.safetensors"]
        # ComfyUI's /models also lists folders that hold no models: custom nodes' source files
        # and model config YAMLs are not reported as models.
        (standin.data_dir / "custom_nodes" / "pack").mkdir()
        (standin.data_dir / "custom_nodes" / "pack" / "__init__.py").write_text("")
        (standin.data_dir / "models" / "configs" / "v1.yaml").write_text("")
        assert not {"custom_nodes", "configs"} & set(info["models"])
        (standin.data_dir / "models" / "loras" / "new.safetensors").write_bytes(b"w")
        info = (await runtime.health()).system_info  # refreshed (interval 0)
        assert info["models"]["loras"] == ["new.safetensors"]
        assert not {"custom_nodes", "configs"} & set(info["models"])
    finally:
        await runtime.close()
