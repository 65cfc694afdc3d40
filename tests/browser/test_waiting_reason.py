"""A newcomer imports the ComfyUI example with only `runyard dev`'s cpu agent: the import
preview and the run form warn that no agent has its labels, and the task page says why the
task waits and what to do; the SDK and `runyard tasks show` say the same."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in

EXAMPLE = Path(__file__).parents[2] / "examples" / "comfyui-invert.yaml"


def test_the_comfyui_example_says_why_it_waits(page: Page, dev: Dev, tmp_path: Path) -> None:
    # The example with a label of its own: other tests of this server may connect a ComfyUI
    # agent (label comfyui) or import the example itself.
    example = tmp_path / "comfyui-invert.yaml"
    example.write_text(
        EXAMPLE.read_text()
        .replace("workflow_slug: comfyui-invert", "workflow_slug: comfyui-invert-newcomer")
        .replace("display_name: Invert an image (ComfyUI)", "display_name: Invert (newcomer)")
        .replace("required_labels: [comfyui]", "required_labels: [comfyui, newcomer]")
    )
    sign_in(page, dev)
    page.get_by_role("link", name="Import a workflow").click()
    page.get_by_label("Workflow file").set_input_files(str(example))
    warning = page.locator("#agents-warning")
    expect(warning).to_contain_text("No agent with the labels comfyui, newcomer")
    expect(warning).to_contain_text("--comfyui-url")
    shot(page, dev, "waiting-01-import-warns")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Invert (newcomer)")).to_be_visible()
    expect(page.locator("#agents-warning")).to_be_visible()

    photo = tmp_path / "photo.png"
    Image.new("RGB", (16, 16), "navy").save(photo)
    page.get_by_label(re.compile("^Image")).set_input_files(str(photo))
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]+$"))
    reason = page.locator("#waiting-reason")
    expect(reason).to_contain_text("No agent with the labels comfyui, newcomer has connected")
    expect(reason).to_contain_text("no_agent_with_labels")
    shot(page, dev, "waiting-02-task-says-why")

    task_id = page.url.rsplit("/", 1)[1]
    shown = subprocess.run(
        [sys.executable, "-m", "runyard", "tasks", "show", task_id],
        env={"RUNYARD_URL": dev.url, "RUNYARD_API_KEY": dev.creds["integration_key"],
             "HOME": str(tmp_path), "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "waiting because" in shown.stdout and "labels comfyui, newcomer" in shown.stdout
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator(".badge", has_text="cancelled")).to_be_visible(timeout=20_000)
