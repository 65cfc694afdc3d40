"""``python -m runyard_agent`` as a real process: hello, a task, SIGTERM drain, exit codes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from runyard_protocol import (
    CloseReason,
    Heartbeat,
    TaskComplete,
    TaskProgress,
    TaskRelease,
)

AGENT_KEY = "ak-test-key-0123456789"  # what the FakeServer accepts (see conftest.py)

ECHO = "runyard_agent.builtins.echo:run"
SLEEP = "runyard_agent.builtins.sleep:run"


async def launch(server, work_dir: Path, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "RUNYARD_AGENT_KEY": AGENT_KEY, "RUNYARD_URL": server.url}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runyard_agent",
        "--agent-id",
        "proc-1",
        "--labels",
        "cpu,gpu",
        "--capacity",
        "2",
        "--work-dir",
        str(work_dir),
        "--comfyui-url",
        "",
        "--log-level",
        "debug",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 15) -> tuple[int, str]:
    _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.fixture
async def processes():
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_process_runs_a_task_and_drains_on_sigterm(
    server, store, make_assign, tmp_path, processes
):
    process = await launch(server, tmp_path / "work", "--drain-timeout", "10")
    processes.append(process)
    await server.wait_connections(1, timeout=20)
    hello = server.hellos[0]
    assert (hello.agent_id, hello.labels, hello.capacity) == ("proc-1", ["cpu", "gpu"], 2)
    assert hello.runtimes == ["python"]

    await server.assign(make_assign(ECHO, inputs={"input_file": ("a.txt", "text/plain", b"abc")}))
    complete = await server.wait_for(TaskComplete, task_id="task-1")
    assert complete.outputs[0].file_size == 3

    await server.assign(make_assign(SLEEP, task_id="long", parameters={"seconds": 1.0}))
    await server.wait_for(TaskProgress, task_id="long")
    process.send_signal(signal.SIGTERM)
    await server.wait_for(Heartbeat, draining=True, timeout=5)
    code, stderr = await finish(process)

    assert code == 0
    assert server.of_type(TaskComplete, task_id="long")  # finished within the drain timeout
    assert server.current.close_code == 1000
    assert AGENT_KEY not in stderr  # not even at debug level
    assert "sig=" not in stderr  # nor signed URLs
    assert "[agent=proc-1 task=long attempt=1]" in stderr
    assert not any((tmp_path / "work").iterdir())


async def test_process_releases_unfinished_tasks_after_the_drain_timeout(
    server, make_assign, tmp_path, processes
):
    process = await launch(server, tmp_path / "work", "--drain-timeout", "0.3")
    processes.append(process)
    await server.wait_connections(1, timeout=20)
    await server.assign(make_assign(SLEEP, parameters={"seconds": 60}))
    await server.wait_for(TaskProgress)
    process.send_signal(signal.SIGTERM)
    code, _ = await finish(process)
    assert code == 0
    assert server.of_type(TaskRelease, task_id="task-1")
    assert not server.of_type(TaskComplete)


async def test_process_exits_non_zero_on_a_terminal_close_code(server, tmp_path, processes):
    server.close_after_hello = CloseReason.INVALID_KEY.code
    process = await launch(server, tmp_path / "work")
    processes.append(process)
    code, stderr = await finish(process, timeout=20)
    assert code == 3
    assert len(server.hellos) == 1
    assert CloseReason.INVALID_KEY.description in stderr
    assert "Traceback" not in stderr
    assert AGENT_KEY not in stderr


async def test_process_exits_non_zero_when_the_key_is_refused(server, tmp_path, processes):
    env = {**os.environ, "RUNYARD_AGENT_KEY": "ak-not-the-right-one"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runyard_agent",
        "--server",
        server.url,
        "--work-dir",
        str(tmp_path / "w"),
        "--comfyui-url",
        "",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    processes.append(process)
    code, stderr = await finish(process, timeout=20)
    assert code == 3
    assert "HTTP 401" in stderr
    assert "ak-not-the-right-one" not in stderr
