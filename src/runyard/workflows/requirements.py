"""What a ComfyUI graph needs of the ComfyUI that runs it: node classes and model files.

Read from the API-format graph after the task's parameter values are bound (a parameter may pick
the checkpoint). Model files are literal values of loader inputs (``ckpt_name`` →
``checkpoints``…), as ComfyUI's ``/models/<folder>`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runyard.workflows.comfyui import comfyui_graph, declared_models, required_library_models

# Loader inputs that name a file of a model folder, whatever the node class.
MODEL_INPUTS: dict[str, str] = {
    "ckpt_name": "checkpoints",
    "lora_name": "loras",
    "vae_name": "vae",
    "control_net_name": "controlnet",
    "unet_name": "diffusion_models",
    "clip_name": "text_encoders",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "clip_name3": "text_encoders",
    "style_model_name": "style_models",
    "gligen_name": "gligen",
    "hypernetwork_name": "hypernetworks",
    "upscale_model_name": "upscale_models",
}
# Inputs whose folder depends on the node class (``model_name`` is generic).
CLASS_MODEL_INPUTS: dict[tuple[str, str], str] = {
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("CLIPLoader", "clip_name"): "text_encoders",
}
# Older ComfyUI lists text encoders under "clip"; either satisfies.
FOLDER_ALIASES: dict[str, tuple[str, ...]] = {"text_encoders": ("text_encoders", "clip")}


@dataclass(frozen=True)
class Requirements:
    node_classes: frozenset[str]
    models: frozenset[tuple[str, str]]  # (folder, file name)
    # Declared by the workflow: an agent fetches them if it lacks them (preferred if it has them).
    fetchable: frozenset[tuple[str, str]] = frozenset()
    # Named from the team's model library (also fetchable): an agent that syncs the library
    # gets no task before it holds them.
    library: frozenset[tuple[str, str]] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.node_classes or self.models)


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def graph_requirements(
    workflow_json: Mapping[str, Any],
    parameters: Sequence[Mapping[str, Any]] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Requirements:
    """Node classes and model files of the graph, with ``values`` of bound parameters."""
    graph = comfyui_graph(dict(workflow_json))
    bound: dict[tuple[str, str], Any] = {}
    for definition in parameters or []:
        key, node_id, field = (
            definition.get("key"),
            definition.get("node_id"),
            definition.get("field"),
        )
        if values and key in values and node_id and field and definition.get("type") != "file":
            bound[(str(node_id), str(field))] = values[str(key)]
    classes: set[str] = set()
    models: set[tuple[str, str]] = set()
    for node_id, node in graph.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("class_type"), str):
            continue
        class_type = node["class_type"]
        classes.add(class_type)
        inputs = node.get("inputs")
        for name, value in inputs.items() if isinstance(inputs, Mapping) else []:
            value = bound.get((str(node_id), str(name)), value)
            folder = CLASS_MODEL_INPUTS.get((class_type, name)) or MODEL_INPUTS.get(name)
            if folder and isinstance(value, str) and value and not _is_link(value):
                models.add((folder, value))
    library = frozenset(required_library_models(dict(workflow_json)))  # synced to agents
    fetchable = (
        frozenset(
            (str(m.get("folder")), str(m.get("file_name")))
            for m in declared_models(dict(workflow_json))
        )
        | library
    )
    return Requirements(frozenset(classes), frozenset(models), fetchable, library)
