"""The Models page: a model file uploaded from the browser (sha256 computed in the page, the
multipart flow above the lowered single-upload limit, with progress), listed, synced to a real
agent started with ``--comfyui-dir`` (the page says which agents hold it, the agents page shows
the sync), disabled (the agent removes it), and deleted."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SINGLE_UPLOAD_MAX, Dev, assert_labelled, shot, sign_in
from tests.support.processes import Proc, python_cmd, wait_until

_LIBRARY_KEYS: dict[str, str] = {}


@pytest.fixture
def library_agent(dev: Dev, tmp_path: Path) -> Iterator[Path]:
    """An agent keeping the library in ``<tmp>/comfy/models`` (no ComfyUI needed for the sync);
    yields that ComfyUI directory."""
    # One key per dev server: the server binds agent_id "lib-agent" to the first key that
    # used it, and refuses it to any other (4011): every test's agent must use that key.
    key = _LIBRARY_KEYS.get(dev.url)
    if key is None:
        key = _LIBRARY_KEYS[dev.url] = httpx.post(
            dev.api + "/credentials",
            headers=dev.session_headers(),
            json={"kind": "agent", "display_name": "library agent"},
            timeout=10,
        ).json()["raw_key"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    comfy = tmp_path / "comfy"
    comfy.mkdir()
    agent = Proc(
        "library-agent",
        python_cmd("-m", "runyard_agent", "--agent-id", "lib-agent", "--labels", "gpu",
                   "--work-dir", str(tmp_path / "work"), "--comfyui-url", "http://127.0.0.1:9",
                   "--comfyui-dir", str(comfy)),
        {**env, "RUNYARD_URL": dev.url, "RUNYARD_AGENT_KEY": key}, tmp_path,
    )  # fmt: skip
    try:
        yield comfy
    finally:
        agent.stop()


def test_models_page_upload_sync_disable_delete(
    page: Page, dev: Dev, library_agent: Path, tmp_path: Path
) -> None:
    data = os.urandom(SINGLE_UPLOAD_MAX + 512 * 1024)  # above the limit: multipart
    model = tmp_path / "browser-lora.safetensors"
    model.write_bytes(data)

    sign_in(page, dev, "/#/models")
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    page.get_by_label("Model file").set_input_files(str(model))
    page.get_by_label("Type (models subfolder)").fill("loras")
    page.get_by_label("Path under the folder").fill("browser/lora.safetensors")
    assert_labelled(page)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Added loras/browser/lora.safetensors")).to_be_visible(timeout=30_000)
    row = page.locator("tr", has=page.get_by_text("loras/browser/lora.safetensors"))
    expect(row.locator(".badge")).to_have_text("active")
    expect(row.locator("code[title]")).to_have_attribute("title", hashlib.sha256(data).hexdigest())

    placed = library_agent / "models" / "loras" / "browser" / "lora.safetensors"
    wait_until(lambda: placed.is_file() and placed.read_bytes() == data, 30)
    expect(row.locator(".held-by")).to_have_text("lib-agent", timeout=15_000)
    shot(page, dev, "models-01-synced")

    page.goto(dev.url + "/#/agents")
    card = page.locator(".agent", has=page.get_by_role("heading", name="lib-agent"))
    expect(card.locator(".library-sync")).to_contain_text("idle")
    expect(card.locator(".library-sync")).to_contain_text("1 model held")
    shot(page, dev, "models-02-agent-sync")

    page.goto(dev.url + "/#/models")
    row = page.locator("tr", has=page.get_by_text("loras/browser/lora.safetensors"))
    row.get_by_role("button", name="Disable browser/lora.safetensors").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    wait_until(lambda: not placed.exists(), 30)  # the agent removed what it had placed
    expect(row.locator(".held-by")).to_have_text("no agent yet", timeout=15_000)

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete browser/lora.safetensors").click()
    expect(page.get_by_text("loras/browser/lora.safetensors")).to_have_count(0)


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_node_packages_section_upload_refuse_disable_delete(
    page: Page, dev: Dev, library_agent: Path, tmp_path: Path
) -> None:
    init = b"NODE_CLASS_MAPPINGS = {}\n"
    good = _archive(tmp_path / "browser_nodes.tar.gz", {"browser_nodes/__init__.py": init})
    evil = _archive(
        tmp_path / "evil.tar.gz", {"evil/__init__.py": init, "evil/../../escape.py": b"x"}
    )

    sign_in(page, dev, "/#/models")
    expect(page.get_by_role("heading", name="Custom node packages")).to_be_visible()
    # A bad archive: refused, the message names the entry.
    page.get_by_label("Package archive (zip or tar.gz of one folder)").set_input_files(str(evil))
    page.get_by_role("button", name="Add package").click()
    expect(page.get_by_text("evil/../../escape.py")).to_be_visible(timeout=30_000)

    page.get_by_label("Package archive (zip or tar.gz of one folder)").set_input_files(str(good))
    assert_labelled(page)
    page.get_by_role("button", name="Add package").click()
    expect(page.get_by_text("Added custom_nodes/browser_nodes")).to_be_visible(timeout=30_000)
    row = page.locator("table.node-packages tr", has=page.get_by_text("custom_nodes/browser_nodes"))
    expect(row.locator(".badge")).to_have_text("active")
    unpacked = library_agent / "custom_nodes" / "browser_nodes" / "__init__.py"
    wait_until(lambda: unpacked.is_file() and unpacked.read_bytes() == init, 30)
    expect(row.locator(".held-by")).to_have_text("lib-agent", timeout=15_000)
    shot(page, dev, "models-03-node-packages")

    row.get_by_role("button", name="Disable browser_nodes").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    wait_until(lambda: not unpacked.parent.exists(), 30)  # the agent removed its folder
    expect(row.locator(".held-by")).to_have_text("no agent yet", timeout=15_000)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete browser_nodes").click()
    expect(page.locator("table.node-packages")).to_have_count(0)
    expect(page.get_by_text("No node packages yet.")).to_be_visible()
