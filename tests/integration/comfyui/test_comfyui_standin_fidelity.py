"""Issue 21: the stand-in matches the real ComfyUI 0.3.64 on each point a runtime relies on."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
from comfyui_helpers import Standin, png_bytes
from PIL import Image
from websockets.asyncio.client import connect


def _upload(standin: Standin, name: str, data: bytes) -> None:
    httpx.post(standin.url + "/upload/image", files={"image": (name, data)}).raise_for_status()


async def run_prompt(
    standin: Standin, graph: dict[str, Any]
) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Submit ``graph`` as client ``me``; every socket message until the final ``executing``
    (binary frames as ``("binary", bytes)``), and the history entry."""
    ws_url = standin.url.replace("http", "ws") + "/ws?clientId=me"
    seen: list[tuple[str, Any]] = []
    async with connect(ws_url, max_size=None) as ws:
        await ws.recv()  # the first status
        async with httpx.AsyncClient(base_url=standin.url) as client:
            answer = await client.post("/prompt", json={"prompt": graph, "client_id": "me"})
            assert answer.status_code == 200, answer.text
            prompt_id = answer.json()["prompt_id"]
            while True:
                raw = await asyncio.wait_for(ws.recv(), 20)
                if isinstance(raw, bytes):
                    seen.append(("binary", raw))
                    continue
                message = json.loads(raw)
                seen.append((message["type"], message["data"]))
                if message["type"] == "executing" and message["data"]["node"] is None:
                    break
            entry = (await client.get(f"/history/{prompt_id}")).json()[prompt_id]
    return seen, entry


def _invert_graph() -> dict[str, Any]:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t"}},
    }


async def test_end_of_prompt_order_and_float_progress_states(standin: Standin) -> None:
    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    seen, _ = await run_prompt(standin, _invert_graph())
    kinds = [kind for kind, _ in seen]
    assert kinds[-3:] == ["execution_success", "status", "executing"]
    assert set(seen[-1][1]) == {"node", "prompt_id"}  # no display_node at the end
    states = [data for kind, data in seen if kind == "progress_state"]
    assert states
    for data in states:
        for node in data["nodes"].values():
            assert isinstance(node["value"], float) and isinstance(node["max"], float)


async def test_a_cached_output_replays_executed_then_a_progress_state(standin: Standin) -> None:
    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    first, _ = await run_prompt(standin, _invert_graph())
    second, _ = await run_prompt(standin, _invert_graph())
    kinds = [kind for kind, _ in second]
    cached = next(data for kind, data in second if kind == "execution_cached")
    assert cached["nodes"] == ["1", "2", "3"]
    at = kinds.index("executed")
    assert second[at][1]["output"] == next(d for k, d in first if k == "executed")["output"]
    assert kinds[at + 1] == "progress_state"
    assert second[at + 1][1]["nodes"]["3"]["state"] == "finished"


def test_validation_bodies_match_comfyui(standin: Standin) -> None:
    post = httpx.Client(base_url=standin.url).post
    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    graph = _invert_graph()
    graph["2"] = {
        "class_type": "ImageBlur",
        "inputs": {"image": ["1", 0], "blur_radius": 40, "sigma": 1.0},
    }
    body = post("/prompt", json={"prompt": graph}).json()
    assert body["error"] == {
        "type": "prompt_outputs_failed_validation",
        "message": "Prompt outputs failed validation",
        "details": "",
        "extra_info": {},
    }
    [error] = body["node_errors"]["2"]["errors"]
    assert error["extra_info"] == {
        "input_name": "blur_radius",
        "input_config": ["INT", {"default": 1, "min": 1, "max": 31, "step": 1}],
        "received_value": 40,
    }
    ghost = _invert_graph()
    ghost["1"]["inputs"]["image"] = "ghost.png"
    [error] = post("/prompt", json={"prompt": ghost}).json()["node_errors"]["1"]["errors"]
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "image - Invalid image file: ghost.png"
    assert error["extra_info"] == {"input_name": "image"}  # no received_value


def test_object_info_and_models_list_what_the_server_has(standin: Standin) -> None:
    (standin.data_dir / "models" / "checkpoints" / "sd15.safetensors").write_bytes(b"w")
    (standin.data_dir / "models" / "loras" / "sub").mkdir(parents=True)
    (standin.data_dir / "models" / "loras" / "sub" / "style.safetensors").write_bytes(b"w")
    info = standin.get("/object_info")
    for name in (
        "LoadImage",
        "SaveAnimatedWEBP",
        "SaveAnimatedPNG",
        "SaveVideo",
        "CreateVideo",
        "PreviewAny",
        "RepeatImageBatch",
        "CheckpointLoaderSimple",
    ):
        assert name in info
    ckpt = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"]
    assert ckpt == [["sd15.safetensors"], {}]
    assert info["SaveImage"]["output_node"] is True
    assert standin.get("/object_info/ImageBlur")["ImageBlur"]["input"]["required"]["sigma"] == [
        "FLOAT",
        {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1},
    ]
    assert "checkpoints" in standin.get("/models")
    assert standin.get("/models/loras") == ["sub/style.safetensors"]
    # As on the real server, /models also lists two folders that hold no models.
    assert {"configs", "custom_nodes"} <= set(standin.get("/models"))
    assert standin.get("/models/custom_nodes") == ["example_node.py.example"]
    missing = httpx.post(
        standin.url + "/prompt",
        json={
            "prompt": {
                "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.ckpt"}},
                "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
            }
        },
    ).json()
    [error] = missing["node_errors"]["1"]["errors"]
    assert error["type"] == "value_not_in_list"
    assert error["details"] == "ckpt_name: 'x.ckpt' not in ['sd15.safetensors']"


async def test_animated_batch_video_text_and_websocket_outputs(standin: Standin) -> None:
    (standin.data_dir / "models" / "checkpoints" / "sd15.safetensors").write_bytes(b"w")
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 3, "color": 0xFF0000},
        },
        "12": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0x00FF00},
        },
        "13": {"class_type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["12", 0]}},
        "14": {
            "class_type": "ImageFromBatch",
            "inputs": {"image": ["13", 0], "batch_index": 2, "length": 2},
        },
        "2": {
            "class_type": "SaveAnimatedWEBP",
            "inputs": {
                "images": ["14", 0],
                "filename_prefix": "anim",
                "fps": 6.0,
                "lossless": True,
                "quality": 80,
                "method": "default",
            },
        },
        "3": {
            "class_type": "SaveAnimatedPNG",
            "inputs": {
                "images": ["1", 0],
                "filename_prefix": "apng",
                "fps": 6.0,
                "compress_level": 4,
            },
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "b"}},
        "5": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 24.0}},
        "6": {
            "class_type": "SaveVideo",
            "inputs": {
                "video": ["5", 0],
                "filename_prefix": "video/clip",
                "format": "auto",
                "codec": "auto",
            },
        },
        "7": {"class_type": "PrimitiveString", "inputs": {"value": "hello"}},
        "8": {"class_type": "PreviewAny", "inputs": {"source": ["7", 0]}},
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
        "10": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "11": {"class_type": "PreviewAny", "inputs": {"source": ["10", 0]}},
    }
    seen, entry = await run_prompt(standin, graph)
    outputs = entry["outputs"]
    assert outputs["2"] == {
        "images": [{"filename": "anim_00001_.webp", "subfolder": "", "type": "output"}],
        "animated": [True],
    }
    with Image.open(standin.data_dir / "output" / "anim_00001_.webp") as webp:
        assert webp.n_frames == 2  # red, green: frames 2 and 3 of the batch of 4
    assert outputs["3"]["images"][0]["filename"] == "apng_00001_.png"
    assert [i["filename"] for i in outputs["4"]["images"]] == [
        "b_00001_.png",
        "b_00002_.png",
        "b_00003_.png",
    ]
    assert outputs["6"] == {
        "images": [{"filename": "clip_00001_.mp4", "subfolder": "video", "type": "output"}],
        "animated": [True],
    }
    assert outputs["8"] == {"text": ["hello"]}
    assert outputs["11"] == {"text": ["<MODEL sd15.safetensors>"]}
    assert "9" not in outputs  # SaveImageWebsocket reports no files: its images are binary frames
    frames = [data for kind, data in seen if kind == "binary"]
    assert len(frames) == 3
    for frame in frames:
        assert frame[:8] == (1).to_bytes(4, "big") + (2).to_bytes(4, "big")
        with Image.open(io.BytesIO(frame[8:])) as image:
            assert image.size == (8, 8) and image.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
