"""The task page's log panel: a deployed Python workflow's prints and logging records appear
live, stderr told apart; a task without a console shows no panel."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from runyard_client import Client
from tests.browser.conftest import Dev, assert_labelled, shot, sign_in

CHATTY = '''
import logging
import time

from runyard_agent import TaskContext, workflow

log = logging.getLogger("chatty")


@workflow("chatty", labels=["cpu"], timeout=120)
def chatty(ctx: TaskContext, lines: int = 5) -> str:
    """Talks while it works."""
    for n in range(lines):
        print(f"working on step {n}")
        ctx.progress((n + 1) / lines, f"step {n}")
        time.sleep(0.3)
    log.warning("almost done")
    return "done"
'''


def test_the_log_panel_shows_a_deployed_tasks_console(page: Page, dev: Dev, tmp_path: Path) -> None:
    code = tmp_path / "chatty"
    code.mkdir()
    (code / "chatty.py").write_text(CHATTY)
    with Client(dev.url, dev.creds["device_key"]) as client:
        [deployed] = client.deploy(code)
        assert deployed.workflow.workflow_slug == "chatty"
        task = client.run("chatty", {"lines": 8})
    sign_in(page, dev, f"/#/tasks/{task.id}")
    log = page.locator("#task-log")
    expect(log).to_contain_text("working on step 0", timeout=60_000)
    expect(log).to_contain_text("working on step 7", timeout=60_000)
    expect(log.locator(".log-stderr")).to_contain_text("WARNING chatty: almost done")
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Log")).to_be_visible()
    assert_labelled(page)
    shot(page, dev, "task-log-01-deployed-python")

    with Client(dev.url, dev.creds["device_key"]) as client:
        assert "working on step 3" in client.tasks.logs(task.id)
        note = tmp_path / "note.txt"
        note.write_text("hi")
        builtin = client.run("echo", {"input_file": note})
    page.goto(f"{dev.url}/#/tasks/{builtin.id}")
    expect(page).to_have_url(re.compile(builtin.id))
    expect(page.locator(".badge", has_text="completed")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Log")).to_have_count(0)
