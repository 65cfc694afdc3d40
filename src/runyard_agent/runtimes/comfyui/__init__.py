"""The ``comfyui`` runtime: runs API-format ComfyUI graphs on a ComfyUI server.

Modules: ``runtime`` (``ComfyUIRuntime``), ``client`` (HTTP/WebSocket calls), ``session``
(following one prompt), ``graph`` (graph loading, parameter bindings, outputs), ``progress``
(overall fraction), ``errors`` (codes and messages), ``files`` (disk hygiene), ``supervisor``
(a ComfyUI the agent starts and restarts), ``pool`` (one ComfyUI per GPU), ``models``
(declared models fetched into ComfyUI's folders). See
``docs/comfyui.md``.

Error codes (``TaskFailedError.code``): ``comfyui_validation_failed``,
``comfyui_execution_error``, ``comfyui_error``, ``comfyui_connection_lost``,
``comfyui_unreachable``, ``comfyui_output_missing``, ``comfyui_invalid_workflow``,
``comfyui_invalid_binding``, ``comfyui_model_unavailable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard_agent.runtimes.comfyui.models import ModelCache
from runyard_agent.runtimes.comfyui.pool import ComfyUIPool, supervised_runtimes
from runyard_agent.runtimes.comfyui.runtime import ComfyUIRuntime

if TYPE_CHECKING:
    from runyard_agent.options import AgentOptions

__all__ = ["ComfyUIPool", "ComfyUIRuntime", "build_comfyui_runtime"]


def build_comfyui_runtime(options: AgentOptions) -> ComfyUIRuntime | ComfyUIPool:
    """The agent's ComfyUI runtime: one ComfyUI at ``--comfyui-url``; with
    ``--comfyui-command`` a supervised one; with ``--comfyui-gpus`` a pool, one per GPU."""
    assert options.comfyui_url
    cache = (
        ModelCache(options.comfyui_dir / "models", options.comfyui_model_budget)
        if options.comfyui_dir is not None
        else None
    )
    if not options.comfyui_command:
        return ComfyUIRuntime(
            options.comfyui_url,
            files_dir=options.comfyui_dir,
            keep_files=options.comfyui_keep_files,
            model_cache=cache,
        )
    members = supervised_runtimes(
        options.comfyui_command,
        options.comfyui_url,
        options.comfyui_gpus,
        files_dir=options.comfyui_dir,
        keep_files=options.comfyui_keep_files,
        model_cache=cache,
    )
    return members[0] if len(members) == 1 else ComfyUIPool(members)
