"""The ``python`` runtime: run a Python function named by the workflow on the task's files.

A python workflow's ``workflow_json`` is ``{"entrypoint": "package.module:function"}``, plus a
``bundle`` when the code was deployed with ``runyard workflows deploy``: such a task runs in a
child process (``runtimes/bundles``). Without a bundle, the function is imported on the agent (so
its package must be installed there) and called in a worker thread. A function decorated with
``@workflow`` (``runyard_agent.functions``) gets its parameters as typed arguments; a plain one
gets the ``TaskContext`` alone::

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
import importlib
import inspect
import os
import platform
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

# A module import: ``functions`` imports ``runtimes.base``, whose package imports this module.
import runyard_agent.functions.decorator as functions
from runyard_agent.runtimes.base import (
    Health,
    ProducedOutput,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.bundles import BundleCache, CallbackSink, run_in_child
from runyard_protocol import AssignedBundle, AssignedWorkflow

__all__ = ["PythonRuntime", "host_info", "resolve_entrypoint"]

_ENTRYPOINT_HINT = 'set workflow_json to {"entrypoint": "package.module:function"}'


class PythonRuntime:
    tool_type = "python"

    def __init__(self, bundle_dir: Path | None = None) -> None:
        # Entrypoints already imported: the first task of a workflow imports its module in a
        # thread (imports do file I/O); later ones skip the hop to a thread altogether.
        self._resolved: dict[str, Callable[..., Any]] = {}
        self._bundle_dir = bundle_dir  # None: a temporary folder, removed at close
        self._bundles: BundleCache | None = None
        self._http: httpx.AsyncClient | None = None
        self._temporary: Path | None = None

    def bundles(self) -> BundleCache:
        if self._bundles is None:
            if self._bundle_dir is None:
                self._temporary = Path(tempfile.mkdtemp(prefix="runyard-bundles-"))
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
            self._bundles = BundleCache(self._bundle_dir or self._temporary or Path(), self._http)
        return self._bundles

    async def run(self, workflow: AssignedWorkflow, ctx: TaskContext) -> list[ProducedOutput]:
        entrypoint = workflow.workflow_json.get("entrypoint")
        if workflow.bundle is not None:
            return await self._run_deployed(workflow.bundle, str(entrypoint), ctx)
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
        self, bundle: AssignedBundle, entrypoint: str, ctx: TaskContext
    ) -> list[ProducedOutput]:
        root = await self.bundles().get(bundle)
        sink = ctx.log if ctx.log is not None else CallbackSink()
        produced = await run_in_child(ctx, root, entrypoint, sink)
        return normalise_outputs(produced, ctx.output_dir, entrypoint)

    async def health(self) -> Health:
        return Health(healthy=True, system_info=host_info())

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._temporary is not None:
            await asyncio.to_thread(shutil.rmtree, self._temporary, True)


def resolve_entrypoint(entrypoint: object) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (the attribute may be dotted, e.g. ``Class.method``)."""
    if not isinstance(entrypoint, str) or entrypoint.count(":") != 1:
        raise TaskFailedError(
            f"invalid python entrypoint {entrypoint!r}: {_ENTRYPOINT_HINT}", code="invalid_workflow"
        )
    module_name, _, attribute = entrypoint.partition(":")
    if not module_name or not attribute:
        raise TaskFailedError(
            f"invalid python entrypoint {entrypoint!r}: {_ENTRYPOINT_HINT}", code="invalid_workflow"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TaskFailedError(
            f"module {exc.name or module_name!r} of entrypoint {entrypoint!r} is not installed on "
            "this agent: install the package that provides it or fix the workflow's entrypoint",
            code="invalid_workflow",
        ) from exc
    except Exception as exc:
        raise TaskFailedError(
            f"importing {module_name!r} failed with {type(exc).__name__}: {exc}",
            code="invalid_workflow",
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise TaskFailedError(
                f"entrypoint {entrypoint!r}: {module_name!r} has no attribute {attribute!r}; "
                "fix the function name in the workflow's entrypoint",
                code="invalid_workflow",
            ) from exc
    if not callable(target):
        raise TaskFailedError(
            f"entrypoint {entrypoint!r} is not a function; {_ENTRYPOINT_HINT}",
            code="invalid_workflow",
        )
    return target  # type: ignore[no-any-return]


def normalise_outputs(result: object, output_dir: Path, entrypoint: str) -> list[ProducedOutput]:
    """Check what the function returned and turn it into ``ProducedOutput`` objects."""
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        raise TaskFailedError(
            f"{entrypoint} returned {type(result).__name__}; it must return a list of "
            "ProducedOutput",
            code="invalid_output",
        )
    outputs: list[ProducedOutput] = []
    for item in result:
        output = _as_output(item, entrypoint)
        path = output.path if output.path.is_absolute() else output_dir / output.path
        if not path.is_file():
            raise TaskFailedError(
                f"{entrypoint} returned output {output.output_id!r} at {path.name!r}, but no such "
                "file was written",
                code="invalid_output",
            )
        if not 1 <= len(output.output_id) <= 200:
            raise TaskFailedError(
                f"{entrypoint} returned an output_id of {len(output.output_id)} characters; "
                "use 1 to 200",
                code="invalid_output",
            )
        if any(existing.output_id == output.output_id for existing in outputs):
            raise TaskFailedError(
                f"{entrypoint} returned output_id {output.output_id!r} twice; ids must be unique",
                code="invalid_output",
            )
        outputs.append(
            ProducedOutput(output.output_id, path, output.content_type, output.file_name)
        )
    return outputs


def _as_output(item: object, entrypoint: str) -> ProducedOutput:
    if isinstance(item, ProducedOutput):
        return item
    if isinstance(item, Mapping):
        try:
            return ProducedOutput(
                output_id=str(item["output_id"]),
                path=Path(item["path"]),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                file_name=str(item["file_name"]) if item.get("file_name") else None,
            )
        except (KeyError, TypeError) as exc:
            raise TaskFailedError(
                f"{entrypoint} returned an output without {exc}; give output_id, path and "
                "content_type",
                code="invalid_output",
            ) from exc
    raise TaskFailedError(
        f"{entrypoint} returned a {type(item).__name__} in its output list; return "
        "ProducedOutput objects",
        code="invalid_output",
    )


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
