"""The python runtime: entrypoint resolution, output conventions, failures and cancellation."""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path

import pytest

from runyard_agent.runtimes.base import (
    ProducedOutput,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.python import PythonRuntime, resolve_entrypoint
from runyard_protocol import AssignedWorkflow


def workflow(entrypoint: object) -> AssignedWorkflow:
    return AssignedWorkflow(
        id="wf-1",
        slug="wf",
        version=1,
        tool_type="python",
        workflow_json={"entrypoint": entrypoint},
    )


@pytest.fixture
def module(monkeypatch):
    """A throwaway module ``agent_test_entrypoints`` whose functions the tests define."""
    mod = types.ModuleType("agent_test_entrypoints")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod


async def test_runs_the_function_in_a_worker_thread_with_the_context(make_ctx, module):
    seen: dict[str, object] = {}

    def run(ctx: TaskContext) -> list[ProducedOutput]:
        seen["thread"] = threading.current_thread()
        seen["parameters"] = ctx.parameters
        path = ctx.output_dir / "out.txt"
        path.write_text("ok")
        ctx.progress(1.0, "done")
        return [ProducedOutput("text", path, "text/plain")]

    module.run = run
    ctx = make_ctx({"n": 3})
    outputs = await PythonRuntime().run(workflow("agent_test_entrypoints:run"), ctx)

    assert seen["thread"] is not threading.main_thread()
    assert seen["parameters"] == {"n": 3}
    assert [(o.output_id, o.path.name, o.content_type) for o in outputs] == [
        ("text", "out.txt", "text/plain")
    ]
    assert make_ctx.reports[-1].progress == 1.0


async def test_accepts_dicts_relative_paths_and_async_functions(make_ctx, module):
    async def run(ctx: TaskContext) -> list[dict[str, str]]:
        (ctx.output_dir / "a.csv").write_text("1,2")
        return [{"output_id": "table", "path": "a.csv", "content_type": "text/csv"}]

    module.run = run
    ctx = make_ctx()
    [output] = await PythonRuntime().run(workflow("agent_test_entrypoints:run"), ctx)
    assert output == ProducedOutput("table", ctx.output_dir / "a.csv", "text/csv", None)


async def test_a_dotted_attribute_entrypoint_resolves(module):
    class Tools:
        @staticmethod
        def run(ctx: TaskContext) -> None:
            return None

    module.Tools = Tools
    assert resolve_entrypoint("agent_test_entrypoints:Tools.run") is Tools.run


@pytest.mark.parametrize(
    ("entrypoint", "fragment"),
    [
        (None, "package.module:function"),
        ("no_colon_here", "package.module:function"),
        ("a:b:c", "package.module:function"),
        (":run", "package.module:function"),
        ("surely_not_installed_pkg.mod:run", "not installed on this agent"),
        ("json:no_such_function", "has no attribute"),
        ("json:__doc__", "is not a function"),
    ],
)
async def test_a_bad_entrypoint_fails_with_invalid_workflow(make_ctx, entrypoint, fragment):
    with pytest.raises(TaskFailedError, match=fragment) as caught:
        await PythonRuntime().run(workflow(entrypoint), make_ctx())
    assert caught.value.code == "invalid_workflow"


async def test_an_exception_becomes_runtime_error_with_its_message(make_ctx, module):
    def run(ctx: TaskContext) -> None:
        raise ValueError("the widget is bent")

    module.run = run
    with pytest.raises(TaskFailedError) as caught:
        await PythonRuntime().run(workflow("agent_test_entrypoints:run"), make_ctx())
    assert caught.value.code == "runtime_error"
    assert "ValueError: the widget is bent" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)  # kept for the local log


async def test_task_failed_error_passes_through_with_its_code(make_ctx, module):
    def run(ctx: TaskContext) -> None:
        raise TaskFailedError("quota exhausted", code="quota_exceeded")

    module.run = run
    with pytest.raises(TaskFailedError) as caught:
        await PythonRuntime().run(workflow("agent_test_entrypoints:run"), make_ctx())
    assert (caught.value.code, str(caught.value)) == ("quota_exceeded", "quota exhausted")


@pytest.mark.parametrize(
    ("result", "fragment"),
    [
        ("out.txt", "must return a list"),
        ([42], "return ProducedOutput"),
        ([{"path": "out.txt"}], "without 'output_id'"),
        ([ProducedOutput("x", Path("missing.txt"), "text/plain")], "no such file"),
        ([ProducedOutput("x", Path("out.txt"), "t/p")] * 2, "twice"),
        ([ProducedOutput("", Path("out.txt"), "t/p")], "1 to 200"),
    ],
)
async def test_bad_outputs_fail_with_invalid_output(make_ctx, module, result, fragment):
    def run(ctx: TaskContext) -> object:
        (ctx.output_dir / "out.txt").write_text("x")
        return result

    module.run = run
    with pytest.raises(TaskFailedError, match=fragment) as caught:
        await PythonRuntime().run(workflow("agent_test_entrypoints:run"), make_ctx())
    assert caught.value.code == "invalid_output"


async def test_cancel_during_the_function_raises_task_cancelled(make_ctx, module):
    def run(ctx: TaskContext) -> list[ProducedOutput]:
        ctx.cancel_event.wait(5)
        return []  # returned early because of the cancel, without raising

    module.run = run
    ctx = make_ctx()
    threading.Timer(0.05, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(TaskCancelledError):
        await PythonRuntime().run(workflow("agent_test_entrypoints:run"), ctx)
    assert time.monotonic() - started < 2


async def test_health_reports_the_machine():
    health = await PythonRuntime().health()
    assert health.healthy
    info = health.system_info
    assert info["python_version"].count(".") == 2
    assert info["cpu_count"] >= 1
    assert info["memory_bytes"] is None or info["memory_bytes"] > 0
    assert info["os"]


async def test_bundle_requirements_live_beside_the_bundles_or_in_the_temporary_folder(
    tmp_path: Path,
) -> None:
    from runyard_agent.runtimes.python import PythonRuntime

    kept = PythonRuntime(tmp_path / "bundles")
    assert kept.envs().directory == tmp_path / "envs"
    await kept.close()
    temporary = PythonRuntime()
    root = temporary.bundles().directory
    assert temporary.envs().directory == root / "envs"  # removed with it at close
    await temporary.close()
    assert not root.exists()
