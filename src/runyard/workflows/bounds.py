"""Size bounds of an imported workflow, checked before anything is stored.

A workflow definition is stored once and then served on every list and get: a graph the server
cannot serialise back (too deep), or one that makes every list slow (too big), would break the
team's reads from then on. The bounds are settings (``RUNYARD_LIMIT_WORKFLOW_*``); the defaults
sit far above real ComfyUI graphs (tens to a few hundred nodes, nested four or five levels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runyard.errors import TooLarge, Unprocessable
from runyard.settings import LimitSettings
from runyard.workflows.comfyui import UI_FORMAT_PROBLEM, comfyui_graph, is_ui_format


@dataclass(frozen=True)
class WorkflowBounds:
    max_bytes: int = 5 * 1024 * 1024
    max_depth: int = 32
    max_nodes: int = 5_000
    max_parameters: int = 200

    @classmethod
    def of(cls, limits: LimitSettings) -> WorkflowBounds:
        return cls(
            max_bytes=limits.workflow_json_bytes,
            max_depth=limits.workflow_json_depth,
            max_nodes=limits.workflow_nodes,
            max_parameters=limits.workflow_parameters,
        )


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` containers (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_bounds(
    bounds: WorkflowBounds, tool_type: str, workflow_json: dict[str, Any], parameter_count: int
) -> None:
    """Raise 413/422 when a definition is outside the bounds; the depth is checked first, so
    that serialising (to measure the size) can never recurse without limit."""
    if json_depth_exceeds(workflow_json, bounds.max_depth):
        raise Unprocessable(
            f"workflow_json nests deeper than {bounds.max_depth} levels "
            "(RUNYARD_LIMIT_WORKFLOW_JSON_DEPTH).",
            code="workflow_too_deep",
        )
    if parameter_count > bounds.max_parameters:
        raise Unprocessable(
            f"A workflow may declare at most {bounds.max_parameters} parameters "
            f"(RUNYARD_LIMIT_WORKFLOW_PARAMETERS); this one declares {parameter_count}.",
            code="too_many_parameters",
        )
    nodes = len(comfyui_graph(workflow_json)) if tool_type == "comfyui" else 0
    if nodes > bounds.max_nodes:
        raise Unprocessable(
            f"A ComfyUI graph may have at most {bounds.max_nodes} nodes "
            f"(RUNYARD_LIMIT_WORKFLOW_NODES); this one has {nodes}.",
            code="too_many_nodes",
        )
    size = len(json.dumps(workflow_json, separators=(",", ":")).encode())
    if size > bounds.max_bytes:
        raise TooLarge(
            f"workflow_json is {size} bytes; at most {bounds.max_bytes} are accepted "
            "(RUNYARD_LIMIT_WORKFLOW_JSON_BYTES).",
            code="workflow_too_large",
        )


def comfyui_graph_problem(graph: dict[str, Any]) -> str | None:
    """Why ``graph`` is not a ComfyUI API-format graph, or None.

    The API format maps node ids to ``{"class_type": "...", "inputs": {...}}``; anything else
    would only fail later, on an agent, long after the import said yes.
    """
    if is_ui_format(graph):
        return UI_FORMAT_PROBLEM
    if not graph:
        return "a comfyui workflow_json is a graph of nodes and cannot be empty"
    for node_id, node in graph.items():
        if not isinstance(node, dict):
            return f"node {node_id!r} is not an object with class_type and inputs"
        class_type = node.get("class_type")
        if not isinstance(class_type, str) or not class_type.strip():
            return f"node {node_id!r} has no class_type"
        if not isinstance(node.get("inputs", {}), dict):
            return f"node {node_id!r}: inputs must be an object"
    return None
