"""The ``python`` runtime: run a Python function named by the workflow on the task's files.

A python workflow's ``workflow_json`` is ``{"entrypoint": "package.module:function"}``, plus a
``bundle`` when the code was deployed with ``runyard workflows deploy``: such a task runs in a
child process kept warm for the bundle's next tasks, within the per-task limits
(``runtimes/bundles``, ``runtimes/limits``). Without a bundle, the function is imported on the
agent (so its package must be installed there) and called in a worker thread. A function
decorated with ``@workflow`` (``runyard_agent.runtimes.functions``) gets its parameters as typed
arguments; a plain one gets the ``TaskContext`` alone::

    def run(ctx: TaskContext) -> list[ProducedOutput]:
        src = ctx.input_files["input_image"]           # downloaded file parameters
        ...                                             # ctx.parameters holds all parameters
        ctx.progress(0.5, "halfway")                    # thread-safe, throttled by the agent
        if ctx.cancelled:                               # check now and then; stop promptly
            raise TaskCancelledError()
        out = ctx.output_dir / "result.png"
        ...
        return [ProducedOutput("image", out, "image/png")]

An ``async def`` function is awaited on the agent's event loop instead (it must not block).
Outputs are ``ProducedOutput`` objects (preferred) or dicts with ``output_id``, ``path``,
``content_type`` and optionally ``file_name``; a relative path is taken from ``ctx.output_dir``.
Raise ``TaskFailedError(message, code)`` for a failure the user should read; any other exception
becomes ``runtime_error`` with the exception's message.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import platform
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

# A module import: ``functions`` imports ``runtimes.base``, whose package imports this module.
import runyard_agent.runtimes.functions.decorator as functions
from runyard_agent.runtimes.base import (
    Health,
    ProducedOutput,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.bundles import BundleCache, CallbackSink, WarmPool, run_in_child
from runyard_agent.runtimes.bundles.envs import PythonEnvs, installed_packages
from runyard_agent.runtimes.entrypoints import normalise_outputs, resolve_entrypoint
from runyard_protocol import AssignedBundle, AssignedWorkflow

__all__ = ["PythonRuntime", "host_info", "resolve_entrypoint"]


class PythonRuntime:
    tool_type = "python"

    def __init__(
        self,
        bundle_dir: Path | None = None,
        *,
        slots: int = 1,
        tasks_per_process: int = 100,
        memory_mb: float | None = None,
        cpu_seconds: float | None = None,
        index_url: str | None = None,
    ) -> None:
        # Entrypoints already imported: the first task of a workflow imports its module in a
        # thread (imports do file I/O); later ones skip the hop to a thread altogether.
        self._resolved: dict[str, Callable[..., Any]] = {}
        self._bundle_dir = bundle_dir  # None: a temporary folder, removed at close
        self._bundles: BundleCache | None = None
        self._http: httpx.AsyncClient | None = None
        self._temporary: Path | None = None
        self._index_url = index_url  # None: bundles' requirements must be installed already
        self._envs: PythonEnvs | None = None
        self._packages: dict[str, str] | None = None
        # Deployed tasks: up to ``slots`` warm processes per (bundle, entrypoint), each serving
        # up to ``tasks_per_process`` tasks (1: a fresh process per task).
        self._pool = WarmPool(max(8, slots), per_key=slots, tasks_per_process=tasks_per_process)
        self._limits: dict[str, float | None] = {
            "memory_mb": memory_mb,
            "cpu_seconds": cpu_seconds,
        }

    def bundles(self) -> BundleCache:
        if self._bundles is None:
            if self._bundle_dir is None:
                self._temporary = Path(tempfile.mkdtemp(prefix="runyard-bundles-"))
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
            self._bundles = BundleCache(self._bundle_dir or self._temporary or Path(), self._http)
        return self._bundles

    def envs(self) -> PythonEnvs:
        """Bundles' requirements: ``<work dir>/envs`` beside ``<work dir>/bundles``, or inside
        the temporary folder (removed at close) without a work dir."""
        if self._envs is None:
            bundles = self.bundles().directory
            where = bundles / "envs" if self._bundle_dir is None else bundles.parent / "envs"
            self._envs = PythonEnvs(where, self._index_url)
        return self._envs

    async def run(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        entrypoint = workflow.workflow_json.get("entrypoint")
        if workflow.bundle is not None:
            needs = workflow.workflow_json.get("requirements")
            requirements = [str(r) for r in needs] if isinstance(needs, list) else []
            return await self._run_deployed(workflow.bundle, str(entrypoint), requirements, ctx)
        function = self._resolved.get(entrypoint) if isinstance(entrypoint, str) else None
        if function is None:
            function = await asyncio.to_thread(resolve_entrypoint, entrypoint)
            self._resolved[str(entrypoint)] = function
        spec = functions.spec_of(function)
        try:
            if spec is not None:
                result = functions.produced(await asyncio.to_thread(spec.call, ctx), ctx)
            elif inspect.iscoroutinefunction(function):
                result = await function(ctx)
            else:
                result = await asyncio.to_thread(function, ctx)
        except (TaskFailedError, TaskCancelledError):
            raise
        except Exception as exc:
            if ctx.cancelled:
                raise TaskCancelledError() from exc
            raise TaskFailedError(
                f"{entrypoint} raised {type(exc).__name__}: {exc}", code="runtime_error"
            ) from exc
        if ctx.cancelled:
            raise TaskCancelledError()
        return normalise_outputs(result, ctx.output_dir, str(entrypoint))

    async def _run_deployed(
        self, bundle: AssignedBundle, entrypoint: str, requirements: list[str], ctx: TaskContext
    ) -> list[ProducedOutput]:
        root = await self.bundles().get(bundle)
        site = await self.envs().site_for(requirements)
        sink = ctx.log if ctx.log is not None else CallbackSink()
        produced = await run_in_child(
            ctx, root, entrypoint, sink, pool=self._pool, limits=self._limits, site=site
        )
        return normalise_outputs(produced, ctx.output_dir, entrypoint)

    async def health(self) -> Health:
        """With the packages of the agent's Python and whether it installs bundles'
        requirements (the server's pre-flight reads them)."""
        if self._packages is None:
            self._packages = await asyncio.to_thread(installed_packages)
        info = {
            **host_info(),
            "packages": self._packages,
            "installs_requirements": self._index_url is not None,
        }
        return Health(healthy=True, system_info=info)

    async def close(self) -> None:
        await self._pool.close()
        if self._http is not None:
            await self._http.aclose()
        if self._temporary is not None:
            await asyncio.to_thread(shutil.rmtree, self._temporary, True)


def host_info() -> dict[str, Any]:
    """What the machine is: OS, CPU count, memory, Python version."""
    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "python_version": platform.python_version(),
        "python_implementation": sys.implementation.name,
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
    }


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
