"""What a ComfyUI graph needs, and how agents' reports answer it."""

from __future__ import annotations

from runyard.workflows.preflight import ComfyUICapabilities, refusal
from runyard.workflows.requirements import graph_requirements

GRAPH = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "2": {
        "class_type": "LoraLoader",
        "inputs": {"model": ["1", 0], "clip": ["1", 1], "lora_name": "style.safetensors"},
    },
    "3": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "4x.pth"}},
    "4": {"class_type": "SomethingElse", "inputs": {"model_name": "not-a-model-folder"}},
    "5": {"class_type": "CLIPLoader", "inputs": {"clip_name": "t5.safetensors"}},
}


def test_graph_requirements_read_loader_inputs_and_bound_values() -> None:
    needs = graph_requirements({"graph": GRAPH})
    assert needs.node_classes == {
        "CheckpointLoaderSimple",
        "LoraLoader",
        "UpscaleModelLoader",
        "SomethingElse",
        "CLIPLoader",
    }
    assert needs.models == {
        ("checkpoints", "sd15.safetensors"),
        ("loras", "style.safetensors"),
        ("upscale_models", "4x.pth"),
        ("text_encoders", "t5.safetensors"),
    }
    bound = graph_requirements(
        GRAPH,
        [{"key": "ckpt", "type": "select", "node_id": "1", "field": "ckpt_name"}],
        {"ckpt": "sdxl.safetensors"},
    )
    assert ("checkpoints", "sdxl.safetensors") in bound.models
    assert ("checkpoints", "sd15.safetensors") not in bound.models


def test_capabilities_accept_the_old_clip_folder_and_count_held_models() -> None:
    caps = ComfyUICapabilities.of(
        {
            "runtimes": {
                "comfyui": {
                    "node_classes": ["CLIPLoader"],
                    "models": {"clip": ["t5.safetensors"]},
                }
            }
        }
    )
    assert caps is not None
    needs = graph_requirements({"5": GRAPH["5"]})
    assert caps.missing(needs) == [] and caps.holds(needs) == 1
    assert ComfyUICapabilities.of({"runtimes": {"comfyui": {"healthy": False}}}) is None


def test_refusal_only_when_every_reporting_agent_lacks_something() -> None:
    needs = graph_requirements({"1": GRAPH["1"]})
    full = ComfyUICapabilities(
        frozenset({"CheckpointLoaderSimple"}), {"checkpoints": frozenset({"sd15.safetensors"})}
    )
    empty = ComfyUICapabilities(frozenset(), {})
    assert refusal(needs, [("a", empty), ("b", full)]) is None
    assert refusal(needs, [("a", None)]) is None
    message = refusal(needs, [("a", empty), ("b", None)])
    assert message is not None and "(agents that reported: a)" in message


def test_declared_models_are_fetchable_not_required_but_holders_are_preferred() -> None:
    wrapped = {
        "graph": {"1": GRAPH["1"]},
        "models": [
            {
                "folder": "checkpoints",
                "file_name": "sd15.safetensors",
                "sha256": "a" * 64,
                "url": "https://x/sd15.safetensors",
            }
        ],
    }
    needs = graph_requirements(wrapped)
    lacking = ComfyUICapabilities(frozenset({"CheckpointLoaderSimple"}), {})
    holding = ComfyUICapabilities(
        frozenset({"CheckpointLoaderSimple"}), {"checkpoints": frozenset({"sd15.safetensors"})}
    )
    assert lacking.missing(needs) == [] and holding.missing(needs) == []
    assert (lacking.holds(needs), holding.holds(needs)) == (0, 1)
