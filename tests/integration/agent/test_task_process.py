"""A deployed task's own process, for real: values and files back, its console to the log sink,
a crash, a cancel that is obeyed and one that is not (killed), and the warm pool."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from runyard_agent.runtimes.base import TaskCancelledError, TaskContext, TaskFailedError
from runyard_agent.runtimes.bundles import CallbackSink, WarmPool, run_in_child

CODE = """
import logging
import os
import sys
import time
from pathlib import Path

from runyard_agent import TaskContext, workflow


@workflow("hello")
def hello(ctx: TaskContext, name: str = "world") -> dict[str, object]:
    print(f"hello {name}")
    print("to stderr", file=sys.stderr)
    logging.getLogger("flows").warning("careful")
    ctx.progress(0.5, "half")
    target = ctx.output_dir / "hello.txt"
    target.write_text(name)
    return {"file": target, "pid": os.getpid(), "cwd": os.getcwd()}


@workflow("polite")
def polite(ctx: TaskContext) -> None:
    while not ctx.cancelled:
        time.sleep(0.02)


@workflow("stubborn")
def stubborn(ctx: TaskContext, pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(1)


@workflow("crash")
def crash(ctx: TaskContext) -> None:
    print("about to crash", file=sys.stderr)
    os._exit(3)
"""


def _ctx(root: Path, parameters: dict[str, object] | None = None) -> TaskContext:
    work = root / "work"
    (work / "outputs").mkdir(parents=True, exist_ok=True)
    reports: list[object] = []
    return TaskContext(
        task_id="t1",
        attempt=1,
        parameters=dict(parameters or {}),
        input_files={},
        input_names={},
        input_types={},
        work_dir=work,
        output_dir=work / "outputs",
        report=reports.append,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "flows.py").write_text(CODE)
    return root


async def test_a_task_runs_in_its_own_process_with_its_console_streamed(tmp_path, code):
    lines: list[tuple[str, str]] = []
    ctx = _ctx(tmp_path, {"name": "runyard"})
    outputs = await run_in_child(
        ctx, code, "flows:hello", CallbackSink(lambda s, line: lines.append((s, line)))
    )
    assert [(o.output_id, o.path.read_text()) for o in outputs] == [("file", "runyard")]
    assert ctx.values["pid"] != os.getpid()
    assert ctx.values["cwd"] == str(ctx.work_dir)
    assert ("stdout", "hello runyard") in lines
    assert ("stderr", "to stderr") in lines
    assert ("stderr", "WARNING flows: careful") in lines


async def test_a_crash_fails_the_task_runtime_crashed_with_its_last_words(tmp_path, code):
    with pytest.raises(TaskFailedError) as caught:
        await run_in_child(_ctx(tmp_path), code, "flows:crash", CallbackSink())
    assert caught.value.code == "runtime_crashed"
    assert "exited with status 3" in str(caught.value)
    assert "about to crash" in str(caught.value)


async def test_a_cancel_is_asked_first_and_a_stuck_process_is_killed(tmp_path, code):
    ctx = _ctx(tmp_path)
    task = asyncio.create_task(run_in_child(ctx, code, "flows:polite", CallbackSink()))
    await asyncio.sleep(0.5)
    ctx.cancel_event.set()
    with pytest.raises(TaskCancelledError):
        await task

    pid_file = tmp_path / "stubborn.pid"
    ctx = _ctx(tmp_path, {"pid_file": str(pid_file)})
    task = asyncio.create_task(run_in_child(ctx, code, "flows:stubborn", CallbackSink()))
    while not pid_file.is_file() or not pid_file.read_text():
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    ctx.cancel_event.set()  # ignored by the function
    await asyncio.sleep(0.3)
    assert _alive(pid) and not task.done()
    task.cancel()  # what the executor does once its grace has passed
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(pid)


async def test_a_fresh_process_per_task_keeps_one_ready_and_lets_it_go_at_close(tmp_path, code):
    pool = WarmPool(tasks_per_process=1)
    try:
        first = _ctx(tmp_path / "a")
        await run_in_child(first, code, "flows:hello", CallbackSink(), pool=pool)
        while not pool.idle():  # the next one starts in the background
            await asyncio.sleep(0.05)
        [ready] = pool.idle()
        ready_pid = ready.process.pid
        second = _ctx(tmp_path / "b")
        await run_in_child(second, code, "flows:hello", CallbackSink(), pool=pool)
        assert second.values["pid"] == ready_pid != first.values["pid"]
        while not pool.idle():
            await asyncio.sleep(0.05)
        [spare] = pool.idle()
    finally:
        await pool.close()
    assert spare.process.returncode is not None and not pool.idle()
