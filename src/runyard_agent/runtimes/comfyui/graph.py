"""The API-format graph: loading it, writing parameter values into it, and its outputs.

A graph is ``{node_id: {"class_type": str, "inputs": {name: value | [node_id, slot]}}}`` as
ComfyUI's "Save (API)" writes it. ``workflow_json`` may also wrap it as ``{"graph": {...}}``.
"""

from __future__ import annotations

import copy
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runyard_agent.runtimes.base import TaskFailedError

INVALID_WORKFLOW = "comfyui_invalid_workflow"
INVALID_BINDING = "comfyui_invalid_binding"

Graph = dict[str, dict[str, Any]]

_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".glb": "model/gltf-binary",
    ".json": "application/json",
    ".txt": "text/plain",
}


def load_graph(workflow_json: Mapping[str, Any]) -> Graph:
    """A deep copy of the API-format graph; refuses the UI format and malformed nodes."""
    raw: Any = workflow_json
    if isinstance(raw.get("graph"), Mapping):
        raw = raw["graph"]
    if isinstance(raw.get("nodes"), list) and "links" in raw:
        raise TaskFailedError(
            "workflow_json is in ComfyUI's UI format; export the graph with 'Save (API)'",
            INVALID_WORKFLOW,
        )
    if not raw:
        raise TaskFailedError("workflow_json holds no ComfyUI nodes", INVALID_WORKFLOW)
    graph: Graph = {}
    for node_id, node in raw.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("class_type"), str):
            raise TaskFailedError(
                f"workflow_json node {node_id} is not an API-format node (no class_type)",
                INVALID_WORKFLOW,
            )
        inputs = node.get("inputs", {})
        if not isinstance(inputs, Mapping):
            raise TaskFailedError(
                f"workflow_json node {node_id} has inputs that are not an object", INVALID_WORKFLOW
            )
        graph[str(node_id)] = copy.deepcopy(dict(node))
    return graph


def allow_partial_outputs(workflow_json: Mapping[str, Any]) -> bool:
    """The wrapper option ``{"graph": ..., "allow_partial_outputs": true}``: complete with the
    outputs ComfyUI ran when it skipped others that failed validation (listed in the result)."""
    return isinstance(workflow_json.get("graph"), Mapping) and (
        workflow_json.get("allow_partial_outputs") is True
    )


def _binding(definition: Mapping[str, Any]) -> tuple[str, str] | None:
    source = definition.get("binding") if isinstance(definition.get("binding"), Mapping) else None
    node_id = (source or definition).get("node_id")
    field = (source or definition).get("field")
    if node_id in (None, "") or not field:
        return None
    return str(node_id), str(field)


def apply_parameters(
    graph: Graph,
    definitions: list[dict[str, Any]],
    values: Mapping[str, Any],
    uploaded: Mapping[str, str],
) -> None:
    """Write each bound parameter into ``graph[node_id]["inputs"][field]``.

    File parameters take the name ComfyUI gave the upload (``uploaded``); parameters without a
    value (optional, not given) leave the graph's own value in place.
    """
    for definition in definitions:
        binding = _binding(definition)
        key = definition.get("key")
        if binding is None or not isinstance(key, str):
            continue
        if key in uploaded:
            value = uploaded[key]
        elif key in values and definition.get("type") != "file":
            value = values[key]
        else:
            continue
        node_id, field = binding
        node = graph.get(node_id)
        if node is None:
            raise TaskFailedError(
                f"parameter {key!r} is bound to node {node_id}, which is not in the graph",
                INVALID_BINDING,
            )
        node.setdefault("inputs", {})[field] = value


@dataclass(frozen=True)
class OutputFile:
    """One file a node produced, as ``executed`` / history list it."""

    node_id: str
    kind: str  # the key in the node's output: "images", "gifs", "audio", ...
    index: int
    filename: str
    subfolder: str
    type: str  # output | temp | input

    @property
    def output_id(self) -> str:
        return f"{self.node_id}.{self.kind}.{self.index}"

    @property
    def local_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.output_id}-{self.filename}")


def collect_outputs(graph_order: list[str], *sources: Mapping[str, Any]) -> list[OutputFile]:
    """Merge node outputs from ``executed`` events and history: graph order, no duplicates.

    Every list of ``{"filename", ...}`` entries in a node's output counts (``images`` for image
    nodes; video and audio nodes use other keys). Other values (text, flags) are skipped.
    """
    merged: dict[str, dict[str, list[dict[str, str]]]] = {}
    for source in sources:
        for node_id, output in source.items():
            if not isinstance(output, Mapping):
                continue
            node = merged.setdefault(str(node_id), {})
            for kind, items in output.items():
                if not isinstance(items, list):
                    continue
                files = node.setdefault(str(kind), [])
                for item in items:
                    if not isinstance(item, Mapping) or not item.get("filename"):
                        continue
                    ref = {
                        "filename": str(item["filename"]),
                        "subfolder": str(item.get("subfolder") or ""),
                        "type": str(item.get("type") or "output"),
                    }
                    if ref not in files:
                        files.append(ref)
    order = [n for n in graph_order if n in merged] + [n for n in merged if n not in graph_order]
    return [
        OutputFile(node_id, kind, index, ref["filename"], ref["subfolder"], ref["type"])
        for node_id in order
        for kind, files in merged[node_id].items()
        for index, ref in enumerate(files)
    ]


# Keys of a node's output that describe files rather than being outputs themselves.
_METADATA_KEYS = frozenset({"animated"})


def collect_values(graph_order: list[str], *sources: Mapping[str, Any]) -> dict[str, Any]:
    """Non-file outputs: each string (or number) in a list under a node's output key, such as
    ``PreviewAny``'s ``{"text": ["..."]}``, by output id ``node.key.index``; graph order."""
    merged: dict[str, dict[str, list[Any]]] = {}
    for source in sources:
        for node_id, output in source.items():
            if not isinstance(output, Mapping):
                continue
            for kind, items in output.items():
                if kind in _METADATA_KEYS or not isinstance(items, list):
                    continue
                scalars = [
                    i for i in items if isinstance(i, str | int | float) and not isinstance(i, bool)
                ]
                if scalars:
                    merged.setdefault(str(node_id), {})[str(kind)] = scalars
    order = [n for n in graph_order if n in merged] + [n for n in merged if n not in graph_order]
    return {
        f"{node_id}.{kind}.{index}": value
        for node_id in order
        for kind, values in merged[node_id].items()
        for index, value in enumerate(values)
    }


def content_type_for(filename: str) -> str:
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    return (
        _CONTENT_TYPES.get(suffix)
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream"
    )
