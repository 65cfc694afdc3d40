"""The runtimes an agent can run tasks with, keyed by ``tool_type``, and their combined health.

``python`` is always available. ``comfyui`` is built only when its module is installed and a
ComfyUI URL is configured; it is imported lazily so an agent without it still starts.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from runyard_agent.runtimes.base import Health, Runtime
from runyard_agent.runtimes.python import PythonRuntime, host_info

if TYPE_CHECKING:
    from runyard_agent.options import AgentOptions
    from runyard_agent.runtimes.comfyui.library import ModelLibrary

__all__ = [
    "HealthReport",
    "build_library",
    "build_runtimes",
    "collect_health",
    "host_info",
    "reload_hook",
]

_log = logging.getLogger(__name__)
_COMFYUI_MODULE = "runyard_agent.runtimes.comfyui"


def build_runtimes(options: AgentOptions) -> dict[str, Runtime]:
    """One runtime per tool type this agent can serve."""
    bundle_dir = options.work_dir / "bundles" if options.work_dir else None
    python = PythonRuntime(
        bundle_dir,
        slots=options.capacity,
        tasks_per_process=options.python_tasks_per_process,
        memory_mb=options.task_memory_mb,
        cpu_seconds=options.task_cpu_seconds,
        index_url=options.python_index_url,
    )
    runtimes: dict[str, Runtime] = {"python": python}
    if options.comfyui_url:
        try:
            module = importlib.import_module(_COMFYUI_MODULE)
        except ImportError as exc:
            if exc.name == _COMFYUI_MODULE:
                _log.debug("no ComfyUI runtime installed; serving python tasks only")
            else:
                _log.warning("the ComfyUI runtime could not be loaded (%s); python only", exc)
        else:
            runtimes["comfyui"] = cast(Runtime, module.build_comfyui_runtime(options))
    return runtimes


def build_library(options: AgentOptions, on_change: Callable[[], None]) -> ModelLibrary | None:
    """The team's model library kept in ComfyUI's models folder: only with ``--comfyui-dir``."""
    if not options.comfyui_url or options.comfyui_dir is None:
        return None
    try:
        module = importlib.import_module(_COMFYUI_MODULE + ".library")
    except ImportError:
        return None
    packages = importlib.import_module(_COMFYUI_MODULE + ".node_packages").NodePackages(
        options.comfyui_dir, options.comfyui_dir / ".runyard-library", options.comfyui_python()
    )
    library: ModelLibrary = module.ModelLibrary(
        options.comfyui_dir / "models",
        options.comfyui_model_budget,
        on_change=on_change,
        packages=packages,
    )
    return library


def reload_hook(runtimes: Mapping[str, Runtime]) -> Callable[[], Awaitable[bool]] | None:
    """How the library restarts the supervised ComfyUI(s) after its node packages changed."""
    reload = getattr(runtimes.get("comfyui"), "reload", None)
    return cast("Callable[[], Awaitable[bool]] | None", reload)


@dataclass(frozen=True)
class HealthReport:
    healthy: bool  # at least one runtime can take work
    runtimes: list[str]  # the healthy ones
    system_info: dict[str, Any]


async def collect_health(
    runtimes: Mapping[str, Runtime], timeout: float, library: ModelLibrary | None = None
) -> HealthReport:
    """Ask every runtime for its health at once; a slow or failing check counts as unhealthy.
    With the model library, its state is ``system_info.library_sync``, and a full disk makes
    the agent unhealthy."""

    async def check(runtime: Runtime) -> Health:
        try:
            return await asyncio.wait_for(runtime.health(), timeout)
        except TimeoutError:
            return Health(healthy=False, detail=f"health check took longer than {timeout:g}s")
        except Exception as exc:  # a broken runtime must not take the agent down
            return Health(healthy=False, detail=f"health check failed: {exc}")

    names = list(runtimes)
    results = await asyncio.gather(*(check(runtimes[name]) for name in names))
    details = {
        name: {"healthy": health.healthy, "detail": health.detail, **health.system_info}
        for name, health in zip(names, results, strict=True)
    }
    healthy_names = [name for name, health in zip(names, results, strict=True) if health.healthy]
    info = {**host_info(), "runtimes": details}
    healthy = bool(healthy_names)
    if library is not None:
        info["library_sync"] = library.report()
        healthy = healthy and library.healthy
    return HealthReport(healthy=healthy, runtimes=healthy_names, system_info=info)
