"""One CLI login against a real `runyard dev`, as a newcomer types it: `runyard login`, then the
runtime commands (device key) and `runyard credentials list` (the saved session) both work;
`--api-key` alone keeps the saved server; `--server` alone picks that server's login."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.acceptance.test_cli import client_env, runyard


def test_login_then_credentials_list(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    env = client_env(tmp)
    server = creds["server_url"]
    login = runyard(
        [
            "login",
            "--server",
            server,
            "--email",
            creds["email_address"],
            "--password",
            creds["user_password"],
        ],
        env,
        tmp,
    )
    assert login.returncode == 0, login.stderr
    profile = tmp / "config" / "runyard" / "profile.json"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert json.loads(profile.read_text())["refresh_token"]

    listed = runyard(["credentials", "list", "--json"], env, tmp)
    assert listed.returncode == 0, listed.stderr
    assert {c["kind"] for c in json.loads(listed.stdout)["items"]} >= {"device", "integration"}
    again = runyard(["credentials", "list"], env, tmp)  # the rotated refresh token was saved
    assert again.returncode == 0, again.stderr

    # The saved server, written another way, picks the same login.
    other_spelling = server.replace("127.0.0.1", "localhost")
    tasks = runyard(["tasks", "list", "--server", other_spelling, "--json"], env, tmp)
    assert tasks.returncode == 0, tasks.stderr
    # A key given alone goes to the saved server, not to the default :8000.
    with_key = runyard(["tasks", "list", "--api-key", creds["integration_key"]], env, tmp)
    assert with_key.returncode == 0, with_key.stderr

    out = runyard(["logout"], env, tmp)
    assert out.returncode == 0 and not profile.exists()
    refused = runyard(["credentials", "list", "--server", server], env, tmp)
    assert refused.returncode == 3
    assert f"runyard login --server {server}" in refused.stderr
    assert refused.stderr.count("error:") == 1 and "Traceback" not in refused.stderr
