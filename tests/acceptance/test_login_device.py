"""`runyard login --device` against a real `runyard serve`: the CLI prints the page and the code,
the test confirms it through the API with the owner's session (as the dashboard does) while the
CLI polls, and the saved device key (and companion agent key) work."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.acceptance.conftest import Stack
from tests.acceptance.test_cli import client_env, runyard

CODE = re.compile(r"\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b")


def test_login_device_pairs_through_a_confirm_and_saves_the_keys(
    stack: Stack, tmp_path: Path
) -> None:
    env = client_env(tmp_path)
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runyard",
            "login",
            "--device",
            "--with-agent-key",
            "--server",
            stack.url,
            "--device-name",
            "ci laptop",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert cli.stdout is not None
        for line in cli.stdout:
            lines.append(line)
            if CODE.search(line):
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert found.wait(30), "".join(lines) + (cli.stderr.read() if cli.stderr else "")
        text = "".join(lines)
        code = CODE.search(text).group(1)  # type: ignore[union-attr]
        assert f"{stack.url}/#/pair?user_code={code}" in text
        time.sleep(0.5)  # the CLI is polling now
        confirm = httpx.post(
            f"{stack.url}/api/v1/desktop/pair/confirm",
            headers=stack.session_headers(),
            json={"user_code": code},
            timeout=10,
        )
        assert confirm.status_code == 200, confirm.text
        assert confirm.json() == {"status": "approved", "device_name": "ci laptop"}
        assert cli.wait(60) == 0, "".join(lines) + (cli.stderr.read() if cli.stderr else "")
    finally:
        if cli.poll() is None:
            cli.kill()
        reader.join(5)
    assert "Device key dk-" in "".join(lines)

    profile_path = tmp_path / "config" / "runyard" / "profile.json"
    assert oct(profile_path.stat().st_mode & 0o777) == "0o600"
    profile = json.loads(profile_path.read_text())
    assert profile["server_url"] == stack.url and profile["team_id"] == stack.team.team_id
    assert profile["api_key"].startswith("dk-") and profile["agent_key"].startswith("ak-")

    listed = runyard(["workflows", "list", "--json"], env, tmp_path)  # with the saved key
    assert listed.returncode == 0, listed.stderr
    me = httpx.get(f"{stack.url}/api/v1/users/me", headers=stack.headers(profile["api_key"]))
    assert me.status_code == 200 and me.json()["email_address"] == stack.team.email_address
    agent = stack.start_agent("paired", key=profile["agent_key"])
    stack.wait_agent("paired", key=None)
    assert agent.alive()

    # Revoking the device key revokes its companion: the paired agent's connection closes (4010)
    # and the agent exits 3 (a bad key), within the key recheck interval.
    session = stack.session_headers()
    keys = httpx.get(f"{stack.url}/api/v1/credentials", headers=session).json()["credentials"]
    dk = next(k for k in keys if k["kind"] == "device" and k["display_name"] == "ci laptop")
    revoked = httpx.delete(f"{stack.url}/api/v1/credentials/{dk['id']}", headers=session)
    assert revoked.status_code == 204
    assert agent.wait(15) == 3, agent.log()[-2000:]
    refused = httpx.get(f"{stack.url}/api/v1/users/me", headers=stack.headers(profile["api_key"]))
    assert refused.status_code == 401
