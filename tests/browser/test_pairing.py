"""`runyard login --device` paired through the dashboard, end to end: the CLI prints the page and
the code, a signed-in user opens that page in Chromium and confirms, and the CLI saves a device
key that works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dev, shot, sign_in

PAGE = re.compile(r"(http://\S+/#/pair\?user_code=([A-Z]{4}-[A-Z]{4}))")


def test_login_device_pairs_through_the_dashboard(page: Page, dev: Dev, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path), COLUMNS="200")
    cli = subprocess.Popen(
        [sys.executable, "-m", "runyard", "login", "--device", "--server", dev.url]
        + ["--device-name", "browser laptop"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    shown = threading.Event()

    def read() -> None:
        assert cli.stdout is not None
        for line in cli.stdout:
            lines.append(line)
            if PAGE.search(line):
                shown.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert shown.wait(30), "".join(lines)
        found = PAGE.search("".join(lines))
        assert found is not None
        address, code = found.group(1), found.group(2)
        assert address.startswith(dev.url)

        sign_in(page, dev, address.removeprefix(dev.url))
        expect(page.get_by_label("Code from the device")).to_have_value(code)
        expect(page.get_by_text("Device asking: browser laptop")).to_be_visible()
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("status").filter(has_text="browser laptop")).to_be_visible()
        shot(page, dev, "pair-01-approved-for-the-cli")
        assert cli.wait(60) == 0, "".join(lines) + (cli.stderr.read() if cli.stderr else "")
    finally:
        if cli.poll() is None:
            cli.kill()
        reader.join(5)

    profile = json.loads((tmp_path / "config" / "runyard" / "profile.json").read_text())
    assert profile["server_url"] == dev.url and profile["api_key"].startswith("dk-")
    me = httpx.get(dev.api + "/users/me", headers={"Authorization": f"Bearer {profile['api_key']}"})
    assert me.status_code == 200 and me.json()["email_address"] == dev.creds["email_address"]

    # The same code cannot be confirmed twice.
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_be_visible()
