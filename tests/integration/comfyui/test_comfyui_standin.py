"""The stand-in answers with the shapes the protocol note records for ComfyUI 0.3.64."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from comfyui_helpers import Standin, png_bytes
from websockets.asyncio.client import connect


def _upload(standin: Standin, name: str, data: bytes) -> dict[str, Any]:
    response = httpx.post(standin.url + "/upload/image", files={"image": (name, data)})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _graph(image: str = "a.png", radius: Any = 3) -> dict[str, Any]:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image}},
        "2": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": radius, "sigma": 1.0},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t"}},
    }


def test_upload_renames_a_different_file_and_reuses_the_same_one(standin: Standin) -> None:
    first, second = png_bytes((1, 2, 3)), png_bytes((9, 9, 9))
    assert _upload(standin, "a.png", first) == {"name": "a.png", "subfolder": "", "type": "input"}
    assert _upload(standin, "a.png", second)["name"] == "a (1).png"
    assert _upload(standin, "a.png", first)["name"] == "a.png"
    assert _upload(standin, "a.png", b"third")["name"] == "a (2).png"
    missing = httpx.post(standin.url + "/upload/image", data={"overwrite": "true"})
    assert (missing.status_code, missing.content) == (400, b"")


def test_prompt_errors_have_comfyui_shapes(standin: Standin) -> None:
    post = httpx.Client(base_url=standin.url).post
    not_json = post("/prompt", content=b"{nope")
    assert not_json.status_code == 500
    assert not_json.headers["content-type"].startswith("text/plain")
    assert post("/prompt", json={"prompt": "x"}).status_code == 500

    no_outputs = post("/prompt", json={"prompt": {"1": _graph()["1"]}})
    assert no_outputs.status_code == 400
    assert no_outputs.json()["error"]["type"] == "prompt_no_outputs"

    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    graph = _graph(radius=40)
    del graph["2"]["inputs"]["sigma"]
    body = post("/prompt", json={"prompt": graph}).json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    node = body["node_errors"]["2"]
    assert node["class_type"] == "ImageBlur"
    assert node["dependent_outputs"] == ["3"]
    assert [e["type"] for e in node["errors"]] == [
        "value_bigger_than_max",
        "required_input_missing",
    ]
    assert node["errors"][0]["message"] == "Value 40 bigger than max of 31"
    assert node["errors"][0]["details"] == "blur_radius"

    ghost = post("/prompt", json={"prompt": _graph(image="ghost.png")}).json()
    assert ghost["node_errors"]["1"]["errors"][0]["type"] == "custom_validation_failed"
    assert standin.get("/queue") == {"queue_running": [], "queue_pending": []}


def test_view_serves_ranges_and_refuses_traversal(standin: Standin) -> None:
    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    response = httpx.post(standin.url + "/prompt", json={"prompt": _graph(), "prompt_id": "p-1"})
    assert response.json()["prompt_id"] == "p-1"
    deadline = time.monotonic() + 10
    while not standin.history() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert standin.get("/history/unknown") == {}
    image = standin.history()["p-1"]["outputs"]["3"]["images"][0]
    assert image == {"filename": "t_00001_.png", "subfolder": "", "type": "output"}

    view = httpx.Client(base_url=standin.url).get
    part = view("/view", params={"filename": "t_00001_.png"}, headers={"Range": "bytes=1-3"})
    assert (part.status_code, part.content) == (206, b"PNG")
    missing = view("/view", params={"filename": "nothing.png"})
    assert (missing.status_code, missing.content) == (404, b"")
    assert view("/view", params={"filename": "../secret.png"}).status_code == 400


@pytest.mark.parametrize("client_id", [None, "somebody-else"])
async def test_execution_events_go_only_to_the_prompts_client(
    standin: Standin, client_id: str | None
) -> None:
    _upload(standin, "a.png", png_bytes((1, 2, 3)))
    ws_url = standin.url.replace("http", "ws") + "/ws?clientId=watcher"
    async with connect(ws_url) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "status" and hello["data"]["sid"] == "watcher"
        body: dict[str, Any] = {"prompt": _graph()}
        if client_id:
            body["client_id"] = client_id
        async with httpx.AsyncClient() as client:
            await client.post(standin.url + "/prompt", json=body)
            while not (await client.get(standin.url + "/history")).json():
                await asyncio.sleep(0.05)
        seen = []
        while True:
            try:
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), 0.3))["type"])
            except TimeoutError:
                break
    assert seen and set(seen) == {"status"}
