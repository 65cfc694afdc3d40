"""PY rows: deployed Python code on the agent's runtime, no server in the way.

- PY1: no-op tasks/s with 4 at a time, a deployed no-op (in child processes kept warm and
  reused by the runtime's pool, 4 for the version, warmed by 4 tasks at once first) beside the
  in-process built-in (``sleep`` 0 s) in the same run, ``BENCH_PY_TASKS`` (200) each in 5
  turns; goal >= 80 %.
- PY2: cold start of a new bundle version: fetch from a local HTTP server, sha256 check,
  unpack, spawn, import, call; p50 over ``BENCH_PY_VERSIONS`` (8) versions.

Both go through ``PythonRuntime.run`` as the executor calls it; the WebSocket hops, the input
and output transfers (the same for both) are left out, so the ratio is the runtime's own.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import io
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Row, env_int, pct, print_table
from runyard_agent.runtimes.base import TaskContext
from runyard_agent.runtimes.python import PythonRuntime
from runyard_protocol import AssignedBundle, AssignedWorkflow

NOOP = """
from runyard_agent import TaskContext, workflow

VERSION = {version}


@workflow("noop", labels=["cpu"])
def noop(ctx: TaskContext) -> None:
    return None
"""


def _bundle(version: int) -> bytes:
    source = NOOP.format(version=version).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("noop.py")
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
    return raw.getvalue()


def _context(root: Path, n: int) -> TaskContext:
    work = root / f"task-{n}"
    (work / "outputs").mkdir(parents=True)
    return TaskContext(
        task_id=f"t{n}",
        attempt=1,
        parameters={"seconds": 0},
        input_files={},
        input_names={},
        input_types={},
        work_dir=work,
        output_dir=work / "outputs",
        report=lambda report: None,
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _deployed(url: str, data: bytes, name: str, version: int) -> AssignedWorkflow:
    bundle = AssignedBundle(
        file_key=f"bundles/bench/{name}",
        sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        download_url=f"{url}/{name}",
    )
    return AssignedWorkflow(
        id="wf",
        slug="noop",
        version=version,
        tool_type="python",
        workflow_json={"entrypoint": "noop:noop", "bundle": bundle.model_dump()},
        bundle=bundle,
    )


async def _throughput(
    runtime: PythonRuntime, workflow: AssignedWorkflow, root: Path, n: int
) -> float:
    """Seconds for ``n`` tasks, 4 at a time."""
    slots = asyncio.Semaphore(4)
    counter = iter(range(n))

    async def one() -> None:
        async with slots:
            await runtime.run(workflow, _context(root, next(counter)))

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started


async def _rates(
    runtime: PythonRuntime,
    builtin: AssignedWorkflow,
    deployed: AssignedWorkflow,
    root: Path,
    n: int,
) -> tuple[float, float]:
    """Tasks/s of each, measured in turns (5 rounds) so that a change of the machine's load
    falls on both alike."""
    rounds = 5
    per_round = max(1, n // rounds)
    spent = {"builtin": 0.0, "deployed": 0.0}
    for turn in range(rounds):
        for name, workflow in (("builtin", builtin), ("deployed", deployed)):
            spent[name] += await _throughput(runtime, workflow, root / f"{name}-{turn}", per_round)
    return rounds * per_round / spent["builtin"], rounds * per_round / spent["deployed"]


async def _measure(root: Path, n_tasks: int, n_versions: int) -> list[Row]:
    served = root / "served"
    served.mkdir()
    server, url = _serve(served)
    runtime = PythonRuntime(root / "cache", slots=4)
    try:
        builtin = AssignedWorkflow(
            id="b",
            slug="sleep",
            version=1,
            tool_type="python",
            workflow_json={"entrypoint": "runyard_agent.builtins.sleep:run"},
        )
        data = _bundle(0)
        (served / "v0.tar.gz").write_bytes(data)
        deployed = _deployed(url, data, "v0.tar.gz", 0)
        # fetched once and 4 processes started, as on an agent that ran the version lately
        await _throughput(runtime, deployed, root / "warm-deployed", 4)
        await runtime.run(builtin, _context(root / "warm", 1))
        in_process, in_child = await _rates(runtime, builtin, deployed, root, n_tasks)
        cold: list[float] = []
        for version in range(1, n_versions + 1):
            data = _bundle(version)
            (served / f"v{version}.tar.gz").write_bytes(data)
            workflow = _deployed(url, data, f"v{version}.tar.gz", version)
            started = time.perf_counter()
            await runtime.run(workflow, _context(root / "cold", version))
            cold.append(time.perf_counter() - started)
    finally:
        await runtime.close()
        server.shutdown()
    ratio = in_child / in_process
    return [
        Row(
            "PY1",
            "deployed no-op tasks/s (warm processes reused) vs in-process built-in, 4 at a time",
            f"{in_child:.1f} vs {in_process:.1f}/s = {ratio:.2f}x",
            ">= 0.8x",
            ratio / 0.8,
            ratio >= 0.8,
        ),
        Row(
            "PY2",
            "cold start of a new bundle version (fetch, check, unpack, spawn, import, call) p50",
            f"{pct(cold, 0.5) * 1000:.0f} ms (p90 {pct(cold, 0.9) * 1000:.0f} ms)",
        ),
    ]


def py_rows() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="runyard-bench-py-") as scratch:
        return asyncio.run(
            _measure(Path(scratch), env_int("BENCH_PY_TASKS", 200), env_int("BENCH_PY_VERSIONS", 8))
        )


if __name__ == "__main__":
    print_table(py_rows())
