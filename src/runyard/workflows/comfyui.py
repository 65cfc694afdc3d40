"""What the server reads in a ComfyUI ``workflow_json``: the API-format graph and its options.

``workflow_json`` is either the graph itself (``{node_id: {"class_type", "inputs"}}``, as
ComfyUI's Workflow → Export (API) writes it) or a wrapper ``{"graph": {...}, OPTIONS}`` whose
options the agent reads (``allow_partial_outputs``). The UI-format export (``nodes`` and
``links`` lists) is refused here, with the way out, rather than on an agent at run time.
"""

from __future__ import annotations

from typing import Any

# Keys a wrapper may hold next to "graph"; anything else is a mistake worth naming at import.
WRAPPER_OPTIONS = frozenset({"allow_partial_outputs"})

UI_FORMAT_PROBLEM = (
    "workflow_json is ComfyUI's UI-format export (it has 'nodes' and 'links' lists), which "
    "ComfyUI's API cannot run; in ComfyUI use Workflow → Export (API) (older menus: enable dev "
    "mode and click Save (API)) and import that file's graph"
)


def is_ui_format(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("nodes"), list) and "links" in value


def comfyui_graph(workflow_json: dict[str, Any]) -> dict[str, Any]:
    """The API-format graph inside ``workflow_json`` (the value itself unless wrapped)."""
    graph = workflow_json.get("graph")
    if isinstance(graph, dict) and set(workflow_json) - {"graph"} <= WRAPPER_OPTIONS:
        return graph
    return workflow_json


def wrapper_problem(workflow_json: dict[str, Any]) -> str | None:
    """Why a ``{"graph": ...}`` wrapper is malformed, or None (also for a plain graph)."""
    if not isinstance(workflow_json.get("graph"), dict):
        return None
    unknown = sorted(set(workflow_json) - {"graph"} - WRAPPER_OPTIONS)
    if unknown:
        return (
            f"workflow_json wraps its graph in 'graph' but also has {unknown}; the options a "
            f"wrapper may hold are {sorted(WRAPPER_OPTIONS)}"
        )
    flag = workflow_json.get("allow_partial_outputs")
    if flag is not None and not isinstance(flag, bool):
        return "workflow_json.allow_partial_outputs must be true or false"
    return None
