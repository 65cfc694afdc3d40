"""The ``comfyui`` runtime: runs API-format ComfyUI graphs on a ComfyUI server.

Modules: ``runtime`` (``ComfyUIRuntime``), ``client`` (HTTP/WebSocket calls), ``session``
(following one prompt), ``graph`` (graph loading, parameter bindings, outputs), ``progress``
(overall fraction), ``errors`` (codes and messages). See ``docs/comfyui.md``.

Error codes (``TaskFailedError.code``): ``comfyui_validation_failed``,
``comfyui_execution_error``, ``comfyui_error``, ``comfyui_connection_lost``,
``comfyui_unreachable``, ``comfyui_output_missing``, ``comfyui_invalid_workflow``,
``comfyui_invalid_binding``.
"""

from runyard_agent.runtimes.comfyui.runtime import ComfyUIRuntime

__all__ = ["ComfyUIRuntime"]
