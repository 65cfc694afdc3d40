"""The README's seed flow in the browser: run img2img with a file uploaded from the page, watch it
live to completion, preview and download the output; import a workflow (YAML) and cancel its
running task; a multipart upload; an event stream that drops and resumes with Last-Event-ID."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Dev, shot, sign_in

SLEEP_YAML = """\
workflow_slug: nap
display_name: Nap
description: Sleeps, reporting progress (imported from the dashboard).
tool_type: python
required_labels: [cpu]
task_timeout: 600
max_retries: 0
workflow_json:
  entrypoint: runyard_agent.builtins.sleep:run
parameters:
  - key: seconds
    type: number
    label: Seconds
    default: 1
    min: 0
    max: 600
"""


def _png(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), "orange").save(path)
    return path


def test_seed_flow_upload_run_watch_download(page: Page, dev: Dev, tmp_path: Path) -> None:
    sign_in(page, dev)
    page.get_by_role("link", name="Image to image").click()
    expect(page.get_by_role("heading", name="Image to image")).to_be_visible()
    page.get_by_label(re.compile("^Input image")).set_input_files(str(_png(tmp_path)))
    page.get_by_label(re.compile("^Operation")).select_option("grayscale")
    shot(page, dev, "runs-01-form")
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]+$"))
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    preview = page.get_by_role("img", name="Preview of")
    expect(preview).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    shot(page, dev, "runs-02-completed")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download").first.click()
    saved = tmp_path / "out.png"
    info.value.save_as(saved)
    with Image.open(saved) as out:
        assert out.size == (64, 48)

    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("cell", name="img2img v1").first).to_be_visible()


def test_import_yaml_then_cancel_running_task(page: Page, dev: Dev, tmp_path: Path) -> None:
    definition = tmp_path / "nap.yaml"
    definition.write_text(SLEEP_YAML)
    sign_in(page, dev)
    page.get_by_role("link", name="Import a workflow").click()
    page.get_by_label("Workflow file").set_input_files(str(definition))
    expect(page.get_by_text("runyard_agent.builtins.sleep:run")).to_have_count(0)
    expect(page.locator("dd", has_text="seconds")).to_be_visible()
    shot(page, dev, "runs-03-import")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Nap")).to_be_visible()
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("This workflow is disabled")).to_be_visible()
    page.get_by_role("button", name="Enable").click()  # no new version for either
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    expect(page.get_by_label("Version")).to_have_value("1")

    page.get_by_label(re.compile("^Seconds")).fill("120")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".badge", has_text="running")).to_be_visible(timeout=20_000)
    expect(page.locator(".messages li").first).to_contain_text("slept")
    shot(page, dev, "runs-04-running")
    # Cancelling asks first: dismissed, nothing happens; accepted, the task is cancelled.
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator(".badge", has_text="running")).to_be_visible()
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator(".badge", has_text="cancelled")).to_be_visible(timeout=20_000)
    assert dialogs and "Cancel this task" in dialogs[0]
    shot(page, dev, "runs-05-cancelled")

    page.get_by_role("link", name="Tasks").click()
    page.get_by_label("Workflow").select_option("nap")
    page.get_by_label("Status").select_option("cancelled")
    expect(page).to_have_url(re.compile(r"workflow_slug=nap"))
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Status").select_option("completed")
    expect(page.get_by_text("No tasks match.")).to_be_visible()


def test_multipart_upload_resumes_after_a_failed_part(page: Page, dev: Dev, tmp_path: Path) -> None:
    """Above the single-upload limit the page uploads in parts; a part that fails leaves the
    upload open, and running the form again sends only the parts the server does not have."""
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (11_000_000 // 256))  # 3 parts of 5 MiB
    puts: list[str] = []
    page.on(
        "request",
        lambda r: (
            puts.append(re.search(r"partNumber=(\d+)", r.url).group(1))  # type: ignore[union-attr]
            if r.method == "PUT" and "partNumber=" in r.url
            else None
        ),
    )
    failed: list[str] = []

    def drop_part_two_once(route: Route) -> None:
        if not failed:
            failed.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r"/storage/.*partNumber=2&"), drop_part_two_once)
    sign_in(page, dev)
    page.get_by_role("link", name="Echo").click()
    page.get_by_label(re.compile("^Input file")).set_input_files(str(big))
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("interrupted")
    bar = page.get_by_label("Upload of Input file")
    assert 0 < float(bar.get_attribute("value") or 0) < big.stat().st_size
    shot(page, dev, "runs-06-upload-interrupted")
    assert puts == ["1", "2"]

    page.get_by_role("button", name="Run", exact=True).click()  # resumes the same upload
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=60_000)
    assert puts == ["1", "2", "2", "3"]
    size = big.stat().st_size
    expect(page.locator(".output")).to_contain_text("big.bin")
    expect(page.locator(".output")).to_contain_text(f"{size / 1024 / 1024:.1f} MB")


def import_sleep(dev: Dev, slug: str, *, seconds: float, **settings: int) -> str:
    """Import a workflow running the built-in sleep (``seconds`` by default); its id."""
    r = httpx.post(
        dev.api + "/workflows/import",
        headers=dev.session_headers(),
        json={
            "workflow_slug": slug,
            "tool_type": "python",
            "required_labels": ["cpu"],
            "workflow_json": {"entrypoint": "runyard_agent.builtins.sleep:run"},
            "parameters": [{"key": "seconds", "type": "number", "default": seconds, "min": 0}],
            **settings,
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    workflow_id: str = r.json()["id"]
    return workflow_id


def test_event_stream_resumes_after_a_drop(page: Page, dev: Dev) -> None:
    """The first event stream ends after one event while the task still runs; the page
    reconnects with Last-Event-ID and follows the task to its end."""
    workflow_id = import_sleep(dev, "nap-resume", seconds=2)
    sent: list[dict[str, str]] = []

    def events(route: Route) -> None:
        sent.append(route.request.headers)
        if len(sent) > 1:
            route.continue_()
            return
        # Not fetched upstream (that would wait for the task's end): the stream's real first
        # event, then the body ends, as when a proxy cuts the connection.
        task_id = route.request.url.split("/tasks/")[1].split("/")[0]
        first = {"task_id": task_id, "task_status": "pending", "timestamp": "2026-01-01T00:00:00Z"}
        body = f"id: 1\nevent: status\ndata: {json.dumps(first)}\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route(re.compile(r"/api/v1/r/tasks/[^/]+/events"), events)
    sign_in(page, dev, f"/#/workflows/{workflow_id}")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    assert len(sent) >= 2
    assert "last-event-id" not in sent[0]
    assert sent[1].get("last-event-id") == "1"
    # what only the resumed stream carried: the task's own message
    expect(page.locator(".messages li").first).to_contain_text("slept")


def test_a_failed_task_shows_its_error(page: Page, dev: Dev) -> None:
    workflow_id = import_sleep(dev, "too-slow", seconds=30, task_timeout=1, max_retries=0)
    sign_in(page, dev, f"/#/workflows/{workflow_id}")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".badge", has_text="failed")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("alert")).to_contain_text("timed_out")
    shot(page, dev, "runs-07-failed")
    page.goto(dev.url + "/#/tasks?workflow_slug=too-slow&task_status=failed")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Created after").fill("2999-01-01T00:00")
    expect(page.get_by_text("No tasks match.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_label("Created after")).to_have_value("")
    expect(page.get_by_label("Workflow")).to_have_value("")
    page.get_by_label("Workflow").select_option("too-slow")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.locator("tbody a").first.click()
    # a finished task's page replays its event log: the messages are there again
    expect(page.locator(".messages li").first).to_contain_text("slept")
    expect(page.get_by_role("alert")).to_contain_text("The task timed out")
