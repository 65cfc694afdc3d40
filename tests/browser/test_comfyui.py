"""The issue's headline flow: import a ComfyUI API-format export, pick its parameters in the
page, run it from the generated form with an image uploaded from the browser, watch it node by
node with its live preview, preview and download the output. ComfyUI is the repository's
stand-in (``runyard_testing.comfyui_standin``, sending a preview as each node starts) behind a
second, real agent with the ``comfyui`` label."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in
from tests.support.processes import Proc, python_cmd, wait_http
from tests.support.s3 import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "comfyui-invert.yaml"


@pytest.fixture
def comfy_agent(dev: Dev, tmp_path: Path) -> Iterator[str]:
    """A ComfyUI stand-in (each node takes a while) and an agent for it; yields the agent id."""
    key = httpx.post(
        dev.api + "/credentials",
        headers=dev.session_headers(),
        json={"kind": "agent", "display_name": "comfy agent"},
        timeout=10,
    ).json()["raw_key"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    port = free_port()
    standin = Proc(
        "comfyui-standin",
        python_cmd("-m", "runyard_testing.comfyui_standin", "--port", str(port),
                   "--node-delay", "0.8", "--preview-every-node"),
        env, tmp_path,
    )  # fmt: skip
    agent = Proc(
        "comfy-agent",
        python_cmd("-m", "runyard_agent", "--agent-id", "comfy-1", "--labels", "comfyui",
                   "--work-dir", str(tmp_path), "--comfyui-url", f"http://127.0.0.1:{port}"),
        {**env, "RUNYARD_URL": dev.url, "RUNYARD_AGENT_KEY": key}, tmp_path,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/queue", proc=standin)
        yield "comfy-1"
    finally:
        agent.stop()
        standin.stop()


def test_comfyui_export_to_outputs(page: Page, dev: Dev, comfy_agent: str, tmp_path: Path) -> None:
    export = tmp_path / "invert_api.json"
    export.write_text(json.dumps(yaml.safe_load(EXAMPLE.read_text())["workflow_json"]))
    photo = tmp_path / "green.png"
    Image.new("RGB", (20, 10), (10, 200, 30)).save(photo)

    sign_in(page, dev, "/#/agents")
    agent = page.locator(".agent", has=page.get_by_role("heading", name=comfy_agent))
    expect(agent.get_by_text("comfyui: healthy")).to_be_visible(timeout=20_000)
    expect(agent.get_by_text(re.compile("^Device: cpu"))).to_be_visible()

    page.goto(dev.url + "/#/workflows/import")
    page.get_by_label("Workflow file").set_input_files(str(export))
    page.get_by_label("LoadImage #1").check()
    expect(page.get_by_label("Type for 1.image")).to_have_value("file")
    page.get_by_label("Key for 1.image").fill("photo")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="invert_api")).to_be_visible()

    page.get_by_label(re.compile("^LoadImage · image")).set_input_files(str(photo))
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("code.node")).to_be_visible(timeout=20_000)  # "Running node: …"
    live = page.get_by_role("img", name="Live preview")
    expect(live).to_be_visible(timeout=20_000)  # the stand-in's previews, via agent and server
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=live.element_handle())
    assert live.get_attribute("src").startswith("blob:")
    shot(page, dev, "comfy-01-running-node")
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    expect(live).to_have_count(0)  # a live view only: gone once the task has ended
    preview = page.get_by_role("img", name="Preview of")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    shot(page, dev, "comfy-02-completed")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").first.click()
    out = tmp_path / "out.png"
    info.value.save_as(out)
    with Image.open(out) as image:
        # Inverted as ComfyUI does it: float32, truncated on save (not 255 - v: 55 → 54).
        assert image.convert("RGB").getpixel((0, 0)) == (245, 54, 225)
