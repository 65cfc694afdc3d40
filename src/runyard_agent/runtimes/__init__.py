"""The runtimes an agent runs tasks with (``registry``: built per ``tool_type``, their health).

The names below are imported on first use: a deployed task's child process imports
``runtimes.base`` and ``runtimes.entrypoints`` and nothing else of the agent.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runyard_agent.runtimes.registry import (
        HealthReport,
        build_library,
        build_runtimes,
        collect_health,
        host_info,
        reload_hook,
    )

__all__ = [
    "HealthReport",
    "build_library",
    "build_runtimes",
    "collect_health",
    "host_info",
    "reload_hook",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("runyard_agent.runtimes.registry"), name)
    raise AttributeError(f"module 'runyard_agent.runtimes' has no attribute {name!r}")
