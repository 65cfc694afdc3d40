"""The node classes the stand-in knows, by name (ComfyUI's ``NODE_CLASS_MAPPINGS``).

Modules: ``spec`` (what a node is), ``images`` (float32 images), ``image_nodes``,
``output_nodes``, ``model_nodes``. The real server has ~480 classes; the stand-in has the
model-free ones tests use, the output kinds a runtime must handle, and model loaders.
"""

from __future__ import annotations

from runyard_testing.comfyui_standin.image_nodes import IMAGE_NODES, MAX_RESOLUTION, SCALE_METHODS
from runyard_testing.comfyui_standin.model_nodes import MODEL_NODES
from runyard_testing.comfyui_standin.output_nodes import OUTPUT_NODES, save_image_path
from runyard_testing.comfyui_standin.spec import (
    MODEL_FOLDERS,
    Folders,
    InputSpec,
    InterruptedByUser,
    NodeContext,
    NodeResult,
    NodeSpec,
)

NODES: dict[str, NodeSpec] = {
    spec.class_type: spec for spec in (*IMAGE_NODES, *OUTPUT_NODES, *MODEL_NODES)
}

__all__ = [
    "MAX_RESOLUTION",
    "MODEL_FOLDERS",
    "NODES",
    "SCALE_METHODS",
    "Folders",
    "InputSpec",
    "InterruptedByUser",
    "NodeContext",
    "NodeResult",
    "NodeSpec",
    "save_image_path",
]
