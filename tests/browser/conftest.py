"""The browser leg: Playwright (Python) driving Debian's Chromium at /usr/bin/chromium against
one real ``runyard dev`` process (server, SQLite, embedded store, local agent) per pytest
worker and one browser per test module, shared by the tests that run there (each test makes its
own browser context, so no session leaks between tests; no test depends on another's data).

Screenshots go to ``$RUNYARD_ARTIFACTS/browser`` (default ``test-artifacts/browser``). The
single-upload limit is lowered so a few-MB file takes the multipart path."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.processes import Proc, python_cmd, wait_http
from tests.support.s3 import free_port

CHROMIUM = "/usr/bin/chromium"
SINGLE_UPLOAD_MAX = 2 * 1024 * 1024  # bytes: above it the dashboard uses multipart
DEV_ENV = {
    "RUNYARD_LIMIT_SINGLE_UPLOAD_MAX": str(SINGLE_UPLOAD_MAX),
    "RUNYARD_LIMIT_PART_SIZE": str(5 * 1024 * 1024),
    "RUNYARD_SCHEDULER_POLL_INTERVAL": "0.2",
    "RUNYARD_SCHEDULER_REAP_INTERVAL": "0.2",
    "RUNYARD_SCHEDULER_CANCEL_GRACE": "3",
    "RUNYARD_EVENTS_KEEPALIVE": "1",
    "RUNYARD_EVENTS_PROGRESS_INTERVAL": "0.05",
}


@dataclass
class Dev:
    url: str
    creds: dict[str, Any]
    data_dir: Path
    artifacts: Path

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def session_headers(self) -> dict[str, str]:
        r = httpx.post(
            self.api + "/auth/login",
            json={
                "email_address": self.creds["email_address"],
                "user_password": self.creds["user_password"],
            },
            timeout=10,
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-tools.sh (make services)")
    root = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(DEV_ENV)
    proc = Proc(
        "runyard-dev",
        python_cmd("-m", "runyard", "dev", "--data-dir", str(root / "data"), "--port", str(port)),
        env,
        root,
    )
    artifacts = Path(os.environ.get("RUNYARD_ARTIFACTS", "test-artifacts")) / "browser"
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        creds = json.loads((root / "data" / "credentials.json").read_text())
        yield Dev(f"http://127.0.0.1:{port}", creds, root / "data", artifacts)
    finally:
        code = proc.stop()
        assert code in (0, -15), proc.log()[-3000:]


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the asyncio tests that a worker may run next need the thread's loop free.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser, dev: Dev, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dev.url)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield pg
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        pg.screenshot(path=str(dev.artifacts / f"{name}-last.png"), full_page=True)
    finally:
        context.close()
    assert not problems, problems


def shot(page: Page, dev: Dev, name: str) -> None:
    page.screenshot(path=str(dev.artifacts / f"{name}.png"), full_page=True)


def sign_in(page: Page, dev: Dev, path: str = "/") -> None:
    page.goto(dev.url + path)
    page.get_by_label("Email address").fill(dev.creds["email_address"])
    page.get_by_label("Password").fill(dev.creds["user_password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120))"""


def assert_labelled(page: Page) -> None:
    """Every visible control has an accessible name (a label, aria-label or its text)."""
    assert page.evaluate(UNLABELLED) == []
