"""Bring your own Python, end to end with real processes: deploy a folder of ``@workflow``
functions with the CLI, run them on a real agent (each task in its own process), a second
version deployed while the first still runs, a stuck function killed after the grace, a crash
failing only its task, and unchanged source making no new version."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.acceptance.conftest import Stack
from tests.support.processes import wait_until

FLOWS = '''
import logging
import os
import time
from pathlib import Path

from runyard_agent import File, TaskContext, workflow

log = logging.getLogger("flows")


@workflow("shout", labels=["cpu"], timeout=300)
def shout(ctx: TaskContext, text: str = "hi", gate: str = "") -> dict[str, object]:
    """Shouts TEXT, once the file GATE exists (when one is named)."""
    print("VERSION-MARK", text)
    log.warning("logged %s", text)
    deadline = time.monotonic() + 240
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        ctx.progress(0.5, "waiting")
        time.sleep(0.05)
    target = ctx.output_dir / "shout.txt"
    target.write_text(SUFFIX(text))
    return {"file": target, "said": SUFFIX(text)}


def SUFFIX(text: str) -> str:
    return text.upper()


@workflow("stuck", labels=["cpu"], timeout=600, max_retries=0)
def stuck(ctx: TaskContext, pid_file: str) -> None:
    """Never stops, not even when asked to."""
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(1)


@workflow("crash", labels=["cpu"], max_retries=0)
def crash(ctx: TaskContext) -> None:
    os.kill(os.getpid(), 9)
'''


def _env(stack: Stack, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env.update(
        HOME=str(tmp),
        XDG_CONFIG_HOME=str(tmp / "config"),
        RUNYARD_URL=stack.url,
        RUNYARD_API_KEY=stack.team.device_key,
        COLUMNS="200",
    )
    return env


def stack_logs(stack: Stack, task_id: str) -> str:
    r = httpx.get(f"{stack.base}/tasks/{task_id}/logs", headers=stack.headers(), timeout=10)
    r.raise_for_status()
    return r.text


def _cli(stack: Stack, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard", *args],
        env=_env(stack, tmp),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _values(stack: Stack, task_id: str) -> dict[str, object]:
    r = httpx.get(f"{stack.base}/tasks/{task_id}/result", headers=stack.headers(), timeout=10)
    r.raise_for_status()
    body = r.json()
    return {
        "values": body["task_output"].get("values", {}),
        "outputs": [o["output_id"] for o in body["task_output"]["outputs"]],
        "download_url": body["download_url"],
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_deploy_run_second_version_cancel_and_crash(stack: Stack, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "flows.py").write_text(FLOWS)
    (code / "notes.txt").write_text("not code")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "junk.pyc").write_bytes(b"junk")

    deployed = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed shout@1 (flows:shout" in deployed.stdout
    assert "deployed stuck@1" in deployed.stdout and "deployed crash@1" in deployed.stdout
    again = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert again.returncode == 0, again.stderr
    assert "shout@1 unchanged" in again.stdout

    stack.start_agent("py-1", capacity=3)
    stack.wait_agent("py-1")

    # Version 1 runs slowly; version 2 is deployed meanwhile and runs beside it.
    gate = tmp_path / "gate"
    first = stack.run("shout", {"text": "one", "gate": str(gate)})
    wait_until(lambda: stack.task(first)["task_status"] == "running", 60)
    (code / "flows.py").write_text(FLOWS.replace("return text.upper()", "return text + '!'"))
    second_deploy = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert second_deploy.returncode == 0, second_deploy.stderr
    # One bundle holds the three functions: new code is a new version of each.
    assert "deployed shout@2" in second_deploy.stdout
    assert "deployed stuck@2" in second_deploy.stdout
    assert stack.task(first)["task_status"] == "running"
    second = stack.run("shout", {"text": "two"})
    done_second = stack.wait_task(second, timeout=90)
    assert done_second["task_status"] == "completed", done_second
    assert stack.task(first)["task_status"] == "running"  # version 1 still runs beside it
    follower = subprocess.Popen(
        [sys.executable, "-m", "runyard", "tasks", "logs", first, "-f"],
        env=_env(stack, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: "VERSION-MARK" in stack_logs(stack, first), 60)
    gate.write_text("go")
    followed, _ = follower.communicate(timeout=120)  # it ends with the task
    assert follower.returncode == 0
    assert "VERSION-MARK one" in followed and "WARNING flows: logged one" in followed
    done_first = stack.wait_task(first, timeout=90)
    assert done_first["task_status"] == "completed", done_first
    assert _values(stack, first)["values"] == {"said": "ONE"}
    assert _values(stack, second)["values"] == {"said": "two!"}
    # What the task printed and logged is its log, by version.
    logs = httpx.get(f"{stack.base}/tasks/{first}/logs", headers=stack.headers(), timeout=10)
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    assert "VERSION-MARK one" in logs.text and "WARNING flows: logged one" in logs.text
    theirs = httpx.get(
        f"{stack.base}/tasks/{first}/logs",
        headers=stack.headers(stack.other_team.integration_key if stack.other_team else None),
        timeout=10,
    )
    assert theirs.status_code == 404 and theirs.json()["error_code"] == "task_not_found"
    result = _values(stack, second)
    assert result["outputs"] == ["file"]
    assert httpx.get(str(result["download_url"]), timeout=10).content == b"two!"

    # A function that ignores the cancel is killed after the agent's grace.
    pid_file = tmp_path / "stuck.pid"
    stuck = stack.run("stuck", {"pid_file": str(pid_file)})
    wait_until(lambda: pid_file.is_file() and pid_file.read_text(), 60)
    pid = int(pid_file.read_text())
    assert _alive(pid)
    asked = time.monotonic()
    r = httpx.post(f"{stack.base}/tasks/{stuck}/cancel", headers=stack.headers(), timeout=10)
    assert r.status_code in (200, 202), r.text
    cancelled = stack.wait_task(stuck, timeout=60)
    assert cancelled["task_status"] == "cancelled", cancelled
    wait_until(lambda: not _alive(pid), 20)
    assert time.monotonic() - asked < 30
    stuck_log = httpx.get(f"{stack.base}/tasks/{stuck}/logs", headers=stack.headers(), timeout=10)
    assert stuck_log.text == ""  # it printed nothing

    # A crash fails its own task only; the agent keeps serving.
    crashed = stack.wait_task(stack.run("crash", {}), timeout=90)
    assert crashed["task_status"] == "failed", crashed
    assert crashed["task_error_code"] == "runtime_crashed", crashed
    assert "SIGKILL" in crashed["task_error"]
    after = stack.wait_task(stack.run("shout", {"text": "three"}), timeout=90)
    assert after["task_status"] == "completed", after


def test_deploy_refuses_what_cannot_be_deployed(stack: Stack, tmp_path: Path) -> None:
    code = tmp_path / "bad"
    code.mkdir()
    (code / "flows.py").write_text(
        "from runyard_agent import TaskContext, workflow\n\n"
        '@workflow("bad-type")\n'
        "def bad(ctx: TaskContext, data: dict) -> None:\n"
        "    return None\n"
    )
    refused = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert refused.returncode == 1
    assert "parameter 'data' has type dict" in refused.stderr

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "flows.py").write_text(FLOWS)
    (linked / "secret").symlink_to("/etc/hostname")
    refused = _cli(stack, tmp_path, "workflows", "deploy", str(linked))
    assert refused.returncode == 1
    assert "outside" in refused.stderr and "secret" in refused.stderr

    big = tmp_path / "big"
    big.mkdir()
    (big / "flows.py").write_text(FLOWS)
    (big / "data.bin").write_bytes(os.urandom(300_000))
    refused = _cli(stack, tmp_path, "workflows", "deploy", str(big), "--max-size", "100000")
    assert refused.returncode == 1
    assert "more than 100000 bytes" in refused.stderr


FLOOD = '''
import sys
import time

from runyard_agent import TaskContext, workflow


@workflow("flood", labels=["cpu"], max_retries=0)
def flood(ctx: TaskContext, seconds: float = 6.0) -> str:
    """Prints about 10 MB a second."""
    block = ("x" * 99 + "\\n") * 10_000  # 1 MB
    print("flood starts")
    deadline = time.monotonic() + seconds
    written = 0
    while time.monotonic() < deadline:
        sys.stdout.write(block)
        written += len(block)
        time.sleep(0.1)
    return f"wrote {written} bytes"
'''


def test_a_flooding_task_is_throttled_and_its_agent_stays_responsive(
    stack: Stack, tmp_path: Path
) -> None:
    code = tmp_path / "flood"
    code.mkdir()
    (code / "flood.py").write_text(FLOOD)
    deployed = _cli(stack, tmp_path, "workflows", "deploy", str(code))
    assert deployed.returncode == 0, deployed.stderr
    stack.start_agent("flooded", capacity=2)
    stack.wait_agent("flooded")
    task_id = stack.run("flood", {"seconds": 6})
    # While it floods, the agent answers its heartbeats (3 missed at 0.5 s would lose it and
    # fail the task) and runs another task beside it.
    wait_until(lambda: stack.task(task_id)["task_status"] == "running", 60)
    beside = stack.wait_task(stack.run("sleep", {"seconds": 0.5}), timeout=60)
    assert beside["task_status"] == "completed", beside
    assert stack.wait_task(task_id, timeout=90)["task_status"] == "completed"
    assert [a["agent_status"] for a in stack.agents() if a["agent_id"] == "flooded"] == ["idle"]
    values = _values(stack, task_id)["values"]
    assert str(values["result"]).startswith("wrote ")
    log = httpx.get(f"{stack.base}/tasks/{task_id}/logs", headers=stack.headers(), timeout=30)
    lines = log.text.splitlines()
    assert lines[0] == "flood starts"
    # 200 lines a second after a burst of 1,000: most of the 600,000 lines are only counted.
    dropped = [line for line in lines if line.startswith("[runyard] ... ")]
    assert dropped and all("line(s) dropped (too many too fast)" in line for line in dropped)
    counted = sum(int(line.split()[2]) for line in dropped)
    assert counted > 100_000
    assert len(lines) < 12_000  # bounded: 10,000 lines and 2 MiB at most, plus the marks
