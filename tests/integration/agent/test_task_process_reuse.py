"""A warm process serving many tasks of its bundle, for real: module state kept, each task in
its own work folder with its own log lines, and never reused after a cancel, a crash, a limit
or its task budget; per-task memory and CPU limits measured per task in a reused process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from runyard_agent.runtimes.base import TaskCancelledError, TaskContext, TaskFailedError
from runyard_agent.runtimes.bundles import CallbackSink, WarmPool, run_in_child

CODE = """
import os
import sys
import threading
import time

from runyard_agent import TaskContext, workflow

CALLS = []


@workflow("count")
def count(ctx: TaskContext, tag: str = "", fail: bool = False) -> dict[str, object]:
    CALLS.append(tag)
    if fail:
        raise ValueError("nope")
    print(f"line of {tag}")
    print(f"unended {tag}", end="")
    print(f"err of {tag}", file=sys.stderr)
    return {"calls": len(CALLS), "pid": os.getpid(), "cwd": os.getcwd()}


@workflow("chatty")
def chatty(ctx: TaskContext) -> None:
    def later() -> None:
        time.sleep(0.3)
        print("printed between tasks", flush=True)

    threading.Thread(target=later, daemon=True).start()


@workflow("flood")
def flood(ctx: TaskContext, megabytes: int = 4) -> int:
    line = "x" * 99 + "\\n"
    for _ in range(megabytes * 10_000):
        sys.stdout.write(line)
    print(f"flooded {megabytes} MB")
    return os.getpid()


@workflow("polite")
def polite(ctx: TaskContext) -> int:
    while not ctx.cancelled:
        time.sleep(0.02)
    return os.getpid()


@workflow("hungry", memory_mb=64)
def hungry(ctx: TaskContext, megabytes: int = 256) -> dict[str, int]:
    block = bytearray(megabytes * 1024 * 1024)
    return {"size": len(block), "pid": os.getpid()}


@workflow("spin", cpu_seconds=1)
def spin(ctx: TaskContext) -> None:
    try:
        while True:
            pass
    except Exception:
        pass  # the limit is not an Exception: it is not swallowed here


@workflow("light")
def light(ctx: TaskContext, megabytes: int = 0) -> int:
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)
"""


class Lines:
    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.dropped_count = 0
        self.budget = 1_000_000

    def room(self) -> int:
        return self.budget

    def lines(self, stream: str, lines: list[str]) -> None:
        self.got.extend((stream, line) for line in lines)

    def dropped(self, count: int) -> None:
        self.dropped_count += count


def _ctx(root: Path, parameters: dict[str, object] | None = None) -> TaskContext:
    work = root / "work"
    (work / "outputs").mkdir(parents=True, exist_ok=True)
    return TaskContext(
        task_id=root.name,
        attempt=1,
        parameters=dict(parameters or {}),
        input_files={},
        input_names={},
        input_types={},
        work_dir=work,
        output_dir=work / "outputs",
        report=lambda report: None,
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "flows.py").write_text(CODE)
    return root


async def _run(pool, tmp_path, code, entry, name, params=None, sink=None):
    ctx = _ctx(tmp_path / name, params)
    await run_in_child(ctx, code, entry, sink or CallbackSink(), pool=pool)
    return ctx


async def test_one_process_serves_many_tasks_each_with_its_own_folder_and_lines(tmp_path, code):
    pool = WarmPool()
    try:
        sinks = [Lines() for _ in range(3)]
        done = [
            await _run(pool, tmp_path, code, "flows:count", f"t{n}", {"tag": f"t{n}"}, sinks[n])
            for n in range(3)
        ]
    finally:
        await pool.close()
    assert len({ctx.values["pid"] for ctx in done}) == 1
    assert [ctx.values["calls"] for ctx in done] == [1, 2, 3]  # module state stays
    assert [ctx.values["cwd"] for ctx in done] == [str(ctx.work_dir) for ctx in done]
    for n, sink in enumerate(sinks):
        assert sorted(sink.got) == sorted(
            [("stdout", f"line of t{n}"), ("stdout", f"unended t{n}"), ("stderr", f"err of t{n}")]
        )


async def test_lines_printed_between_tasks_go_to_no_task(tmp_path, code):
    pool = WarmPool()
    try:
        first, second = Lines(), Lines()
        await _run(pool, tmp_path, code, "flows:chatty", "a", sink=first)
        await asyncio.sleep(0.6)  # the thread prints while the process waits for a job
        await _run(pool, tmp_path, code, "flows:chatty", "b", sink=second)
    finally:
        await pool.close()
    assert ("stdout", "printed between tasks") not in first.got + second.got


async def test_a_flood_is_counted_and_the_next_task_gets_its_own_lines(tmp_path, code):
    pool = WarmPool()
    try:
        flood = Lines()
        flood.budget = 0  # the sink takes nothing: every line is only counted
        ctx = await _run(pool, tmp_path, code, "flows:flood", "f", {"megabytes": 4}, flood)
        after = Lines()
        next_ctx = await _run(pool, tmp_path, code, "flows:flood", "n", {"megabytes": 0}, after)
    finally:
        await pool.close()
    assert flood.got == [] and flood.dropped_count >= 40_000
    assert next_ctx.values["result"] == ctx.values["result"]  # the same process
    assert after.got == [("stdout", "flooded 0 MB")] and after.dropped_count == 0


async def test_a_failed_task_leaves_the_process_for_the_next(tmp_path, code):
    pool = WarmPool()
    try:
        with pytest.raises(TaskFailedError) as caught:
            await _run(pool, tmp_path, code, "flows:count", "a", {"fail": True})
        assert caught.value.code == "runtime_error"
        [kept] = pool.idle()
        ctx = await _run(pool, tmp_path, code, "flows:count", "b")
    finally:
        await pool.close()
    assert ctx.values["pid"] == kept.process.pid and ctx.values["calls"] == 2


async def test_a_cancelled_task_s_process_is_never_reused(tmp_path, code):
    pool = WarmPool()
    try:
        ctx = _ctx(tmp_path / "a")
        task = asyncio.create_task(run_in_child(ctx, code, "flows:polite", Lines(), pool=pool))
        await asyncio.sleep(0.5)
        ctx.cancel_event.set()
        with pytest.raises(TaskCancelledError):
            await task
        after = await _run(pool, tmp_path, code, "flows:count", "b")
        first_pid = after.values["pid"]
        again = await _run(pool, tmp_path, code, "flows:count", "c")
    finally:
        await pool.close()
    assert again.values["calls"] == 2 and again.values["pid"] == first_pid  # a new process


async def test_a_process_serves_at_most_tasks_per_process_tasks(tmp_path, code):
    pool = WarmPool(tasks_per_process=2)
    try:
        pids = [
            (await _run(pool, tmp_path, code, "flows:count", f"t{n}")).values["pid"]
            for n in range(4)
        ]
    finally:
        await pool.close()
    assert pids[0] == pids[1] != pids[2] == pids[3]


async def test_versions_never_share_a_process(tmp_path, code):
    other = tmp_path / "other-version"
    other.mkdir()
    (other / "flows.py").write_text(CODE)
    pool = WarmPool()
    try:
        a = await _run(pool, tmp_path, code, "flows:count", "a")
        b = await _run(pool, tmp_path, other, "flows:count", "b")
    finally:
        await pool.close()
    assert a.values["pid"] != b.values["pid"] and b.values["calls"] == 1


async def test_over_the_memory_limit_the_task_fails_and_its_process_goes(tmp_path, code):
    pool = WarmPool()
    try:
        with pytest.raises(TaskFailedError) as caught:
            await _run(pool, tmp_path, code, "flows:hungry", "a", {"megabytes": 256})
        assert caught.value.code == "resource_limit_exceeded"
        assert "memory limit of 64 MB" in str(caught.value)
        ok = await _run(pool, tmp_path, code, "flows:hungry", "b", {"megabytes": 16})
        again = await _run(pool, tmp_path, code, "flows:hungry", "c", {"megabytes": 16})
    finally:
        await pool.close()
    assert ok.values["size"] == again.values["size"] == 16 * 1024 * 1024
    assert ok.values["pid"] == again.values["pid"]  # limits lifted between tasks


async def test_the_agent_s_limits_apply_to_workflows_without_their_own(tmp_path, code):
    pool = WarmPool()
    limits: dict[str, float | None] = {"memory_mb": 32, "cpu_seconds": None}
    try:
        ctx = _ctx(tmp_path / "a", {"megabytes": 128})
        with pytest.raises(TaskFailedError) as caught:
            await run_in_child(ctx, code, "flows:light", Lines(), pool=pool, limits=limits)
        assert caught.value.code == "resource_limit_exceeded"
        assert "32 MB" in str(caught.value)
    finally:
        await pool.close()


async def test_over_the_cpu_limit_the_task_fails_measured_per_task(tmp_path, code):
    pool = WarmPool()
    try:
        with pytest.raises(TaskFailedError) as caught:
            await _run(pool, tmp_path, code, "flows:spin", "a")
        assert caught.value.code == "resource_limit_exceeded"
        assert "CPU time limit of 1 s" in str(caught.value)
        assert pool.idle() == []  # not kept: a new one starts in the background
    finally:
        await pool.close()


def test_limits_are_checked_by_the_decorator():
    from runyard_agent import workflow
    from runyard_agent.runtimes.functions.signature import WorkflowSignatureError

    with pytest.raises(WorkflowSignatureError, match="memory_mb must be more than 0"):
        workflow("x1", memory_mb=0)
    assert os.environ.get("RUNYARD_CHANNEL_FD") is None


async def test_a_warm_process_that_died_while_idle_is_not_given_a_task(tmp_path, code):
    pool = WarmPool()
    try:
        first = await _run(pool, tmp_path, code, "flows:count", "a")
        [idle] = pool.idle()
        os.kill(idle.process.pid, 9)
        while idle.alive:
            await asyncio.sleep(0.01)
        second = await _run(pool, tmp_path, code, "flows:count", "b")
    finally:
        await pool.close()
    assert second.values["pid"] != first.values["pid"] and second.values["calls"] == 1


async def test_a_task_whose_folder_is_gone_fails_and_the_process_goes(tmp_path, code):
    import shutil

    pool = WarmPool()
    try:
        ctx = _ctx(tmp_path / "gone")
        shutil.rmtree(ctx.work_dir)
        with pytest.raises(TaskFailedError) as caught:
            await run_in_child(ctx, code, "flows:count", Lines(), pool=pool)
        assert caught.value.code == "runtime_error" and "work folder" in str(caught.value)
        assert pool.idle() == [] or all(c.served == 0 for c in pool.idle())
    finally:
        await pool.close()
