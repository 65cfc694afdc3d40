"""The task page's tools: inputs shown by name, an output opened large (text shown as text),
"Run again" with the form prefilled (the file reused by key), search by task id on the Tasks
page, and per-workflow snippets (curl, Python SDK, CLI) filled with its parameters."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in


def _run_echo(page: Page, notes: Path) -> str:
    page.get_by_label(re.compile("^Input file")).set_input_files(str(notes))
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]+$"))
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    return page.url.rsplit("/", 1)[1]


def test_open_output_rerun_search_and_snippets(page: Page, dev: Dev, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello from the browser\n" * 3)
    sign_in(page, dev)
    page.get_by_role("link", name=re.compile("^Echo")).first.click()

    snippets = page.get_by_role("region", name="Run it from code")
    expect(page.locator("#snippet-curl")).to_contain_text("/r/workflows/slug/echo/run")
    snippets.get_by_role("button", name="Python SDK").click()
    expect(page.locator("#snippet-python")).to_contain_text('client.run("echo"')
    snippets.get_by_role("button", name="CLI").click()
    expect(page.locator("#snippet-cli")).to_contain_text("runyard run echo -p input_file=@")
    shot(page, dev, "tools-01-snippets")

    first = _run_echo(page, notes)
    expect(page.locator("dl.inputs")).to_contain_text("notes.txt")
    page.get_by_role("button", name="Open notes.txt").click()
    viewer = page.get_by_role("dialog")
    expect(viewer.locator("#viewer-text")).to_contain_text("hello from the browser")
    shot(page, dev, "tools-02-output-viewer")
    viewer.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.get_by_role("link", name="Run again").click()
    expect(page.locator("#rerun-note")).to_contain_text(first)
    expect(page.locator(".reused")).to_contain_text("notes.txt")
    shot(page, dev, "tools-03-rerun-prefilled")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/tasks/[0-9a-f-]+$"))
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    assert page.url.rsplit("/", 1)[1] != first

    page.get_by_role("link", name="Tasks").click()
    page.get_by_label("Task id").fill(first)
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page).to_have_url(re.compile(first + "$"))
    expect(page.locator("dd", has_text=first)).to_be_visible()
