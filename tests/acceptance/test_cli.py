"""The CLI user journey against a real `runyard dev`: from a file on disk to a downloaded PNG."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.acceptance.test_seed import one_mib_png


def runyard(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def client_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), HOME=str(tmp), COLUMNS="120", **extra)
    return env


def test_run_wait_download_writes_the_png(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    original = one_mib_png(tmp / "photo.png")
    env = client_env(tmp, RUNYARD_URL=creds["server_url"], RUNYARD_API_KEY=creds["device_key"])
    done = runyard(
        [
            "run",
            "img2img",
            "-p",
            "input_image=@photo.png",
            "-p",
            "prompt=enhance",
            "--wait",
            "--download",
            "out/",
        ],
        env,
        tmp,
    )
    assert done.returncode == 0, done.stderr
    files = list((tmp / "out").iterdir())
    assert len(files) == 1 and files[0].suffix == ".png"
    assert files[0].read_bytes() != original
    assert Image.open(io.BytesIO(files[0].read_bytes())).format == "PNG"
    listed = runyard(["tasks", "list", "--json"], env, tmp)
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    rows = tasks["items"]
    assert rows[0]["task_status"] == "completed"


def test_errors_exit_non_zero_without_a_traceback(dev_server: tuple[dict[str, str], Path]) -> None:
    creds, tmp = dev_server
    env = client_env(tmp, RUNYARD_URL=creds["server_url"], RUNYARD_API_KEY="sk-wrong")
    bad = runyard(["tasks", "list"], env, tmp)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    env = client_env(tmp, RUNYARD_URL=creds["server_url"], RUNYARD_API_KEY=creds["device_key"])
    missing = runyard(["run", "no-such-workflow", "-p", "x=1"], env, tmp)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_login_saves_a_profile_then_runs_with_it(
    dev_server: tuple[dict[str, str], Path],
) -> None:
    creds, tmp = dev_server
    env = client_env(tmp)
    login = subprocess.run(
        [
            sys.executable,
            "-m",
            "runyard",
            "login",
            "--server",
            creds["server_url"],
            "--email",
            creds["email_address"],
            "--password",
            creds["user_password"],
        ],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert login.returncode == 0, login.stderr
    profiles = list((tmp / "config").rglob("*.json"))
    assert profiles and oct(profiles[0].stat().st_mode & 0o777) == "0o600"
    assert json.loads(profiles[0].read_text())["api_key"].startswith("dk-")
    (tmp / "notes.txt").write_text("hello")
    run = runyard(
        ["run", "echo", "-p", "input_file=@notes.txt", "--wait", "--download", "echoed/"], env, tmp
    )
    assert run.returncode == 0, run.stderr
    assert (tmp / "echoed" / "notes.txt").read_text() == "hello"
