"""A bundle's pip requirements on the agent, for real: a tiny wheel built here, served by a
simple package index over HTTP, installed once by pip for tasks that ask at once, importable in
the task's process; a requirement the index lacks, and an agent without an index, fail naming
what is missing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runyard_agent.runtimes.base import TaskContext, TaskFailedError
from runyard_agent.runtimes.bundles import CallbackSink, WarmPool, run_in_child
from runyard_agent.runtimes.bundles.envs import PythonEnvs
from tests.support.pyindex import serve_index

CODE = """
import tinyreq

from runyard_agent import TaskContext, workflow


@workflow("uses-tinyreq")
def uses(ctx: TaskContext) -> dict[str, object]:
    return {"value": tinyreq.VALUE, "from": tinyreq.__file__}
"""


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """tinyreq 1.0 and 2.0 on a simple index; pip's own configuration (other indexes,
    find-links, constraints) is switched off for the test."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with serve_index(tmp_path / "index", "tinyreq", ["1.0", "2.0"]) as url:
        yield url


def _ctx(root: Path) -> TaskContext:
    work = root / "work"
    (work / "outputs").mkdir(parents=True, exist_ok=True)
    return TaskContext(
        task_id=root.name,
        attempt=1,
        parameters={},
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


async def test_requirements_are_installed_once_and_imported_by_the_task(
    tmp_path: Path, code: Path, index: str
) -> None:
    envs = PythonEnvs(tmp_path / "envs", index)
    sites = await asyncio.gather(*(envs.site_for(["tinyreq==1.0"]) for _ in range(3)))
    assert envs.builds == 1 and len(set(sites)) == 1 and sites[0] is not None
    pool = WarmPool()
    try:
        ctx = _ctx(tmp_path / "a")
        await run_in_child(ctx, code, "flows:uses", CallbackSink(), pool=pool, site=sites[0])
        other = await envs.site_for(["tinyreq>=2"])  # another set: its own folder
        ctx2 = _ctx(tmp_path / "b")
        await run_in_child(ctx2, code, "flows:uses", CallbackSink(), pool=pool, site=other)
    finally:
        await pool.close()
    assert ctx.values["value"] == "1.0" and str(sites[0]) in ctx.values["from"]
    assert ctx2.values["value"] == "2.0" and envs.builds == 2
    again = PythonEnvs(tmp_path / "envs", index)  # a restarted agent finds the folder
    assert await again.site_for(["tinyreq==1.0"]) == sites[0] and again.builds == 0


async def test_a_requirement_the_index_lacks_fails_naming_it(tmp_path: Path, index: str) -> None:
    envs = PythonEnvs(tmp_path / "envs", index)
    with pytest.raises(TaskFailedError) as caught:
        await envs.site_for(["tinyreq==1.0", "no-such-package-xyz>=1"])
    assert caught.value.code == "python_requirements_failed"
    assert "no-such-package-xyz" in str(caught.value)
    assert [p.name for p in (tmp_path / "envs").iterdir()] == []  # nothing half-built kept


async def test_without_an_index_missing_requirements_fail_naming_them(tmp_path: Path) -> None:
    envs = PythonEnvs(tmp_path / "envs", None)
    assert await envs.site_for(["httpx>=0.1", "pytest"]) is None  # the agent has these
    with pytest.raises(TaskFailedError) as caught:
        await envs.site_for(["httpx<0.1", "tinyreq==1.0"])
    assert caught.value.code == "python_requirements_missing"
    message = str(caught.value)
    assert "httpx<0.1 (0.28.1 installed)" in message and "tinyreq==1.0 (not installed)" in message
    assert "--python-index-url" in message


async def test_a_task_without_its_requirements_fails_at_import(tmp_path: Path, code: Path) -> None:
    with pytest.raises(TaskFailedError) as caught:
        await run_in_child(_ctx(tmp_path / "a"), code, "flows:uses", CallbackSink())
    assert caught.value.code == "invalid_workflow" and "tinyreq" in str(caught.value)
