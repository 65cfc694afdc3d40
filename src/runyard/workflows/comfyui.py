"""What the server reads in a ComfyUI ``workflow_json``: the API-format graph and its options.

``workflow_json`` is either the graph itself (``{node_id: {"class_type", "inputs"}}``, as
ComfyUI's Workflow → Export (API) writes it) or a wrapper ``{"graph": {...}, OPTIONS}`` whose
options the agent reads (``allow_partial_outputs``). The UI-format export (``nodes`` and
``links`` lists) is refused here, with the way out, rather than on an agent at run time.
"""

from __future__ import annotations

import re
from typing import Any

from runyard.library.paths import model_path_problem, model_type_problem

# Keys a wrapper may hold next to "graph"; anything else is a mistake worth naming at import.
WRAPPER_OPTIONS = frozenset({"allow_partial_outputs", "models", "required_models"})
_MODEL_KEYS = frozenset({"folder", "file_name", "sha256", "url"})

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
    return _models_problem(workflow_json.get("models")) or _library_problem(
        workflow_json.get("required_models")
    )


def required_library_models(workflow_json: dict[str, Any]) -> list[tuple[str, str]]:
    """``(model_type, model_path)`` of the team's library models a wrapped workflow names in
    ``required_models`` (checked at import; each must be an active library model at run)."""
    if not isinstance(workflow_json.get("graph"), dict):
        return []
    named = workflow_json.get("required_models") or []
    return [
        (str(m["model_type"]), str(m["model_path"]))
        for m in named
        if isinstance(m, dict) and "model_type" in m and "model_path" in m
    ]


def _library_problem(named: Any) -> str | None:
    if named is None:
        return None
    if not isinstance(named, list):
        return "workflow_json.required_models must be a list of {model_type, model_path}"
    for index, model in enumerate(named):
        where = f"workflow_json.required_models[{index}]"
        if not isinstance(model, dict) or set(model) != {"model_type", "model_path"}:
            return f"{where} must have exactly model_type and model_path"
        if not all(isinstance(model[k], str) for k in model):
            return f"{where}: model_type and model_path must be strings"
        problem = model_type_problem(model["model_type"]) or model_path_problem(model["model_path"])
        if problem is not None:
            return f"{where}: {problem}"
    return None


def declared_models(workflow_json: dict[str, Any]) -> list[dict[str, str]]:
    """The ``models`` a wrapped workflow declares (checked at import)."""
    models = workflow_json.get("models") if isinstance(workflow_json.get("graph"), dict) else None
    return [m for m in models or [] if isinstance(m, dict)]


def _models_problem(models: Any) -> str | None:
    if models is None:
        return None
    if not isinstance(models, list):
        return "workflow_json.models must be a list of {folder, file_name, sha256, url}"
    for index, model in enumerate(models):
        where = f"workflow_json.models[{index}]"
        if not isinstance(model, dict) or set(model) != _MODEL_KEYS:
            return f"{where} must have exactly folder, file_name, sha256 and url"
        if not all(isinstance(model[k], str) and model[k] for k in _MODEL_KEYS):
            return f"{where}: folder, file_name, sha256 and url must be non-empty strings"
        if not re.fullmatch(r"[0-9a-fA-F]{64}", model["sha256"]):
            return f"{where}.sha256 must be 64 hex digits"
        if not model["url"].startswith("https://"):
            return f"{where}.url must be an https URL"
        parts = [model["folder"], *model["file_name"].split("/")]
        if any(p in ("", ".", "..") or "\\" in p for p in parts):
            return f"{where}: folder and file_name must be plain relative names"
    return None
