"""Model loaders: their name inputs list the files under ``models/<folder>`` (as ComfyUI's
``folder_paths`` does), so a graph naming a model the server lacks fails validation with
``value_not_in_list``. Loading only checks the file is there; the value is an opaque handle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runyard_testing.comfyui_standin.spec import (
    InputSpec,
    NodeContext,
    NodeResult,
    NodeSpec,
    float_input,
)


@dataclass(frozen=True)
class Loaded:
    kind: str
    name: str

    def __str__(self) -> str:
        return f"<{self.kind} {self.name}>"


def _files_in(folder: str) -> InputSpec:
    return InputSpec("COMBO", {}, choices_of=lambda folders: folders.model_files(folder))


def _loader(folder: str, field: str, kinds: tuple[str, ...]) -> Any:
    def run(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
        ctx.sleep_whole()
        name = str(inputs[field])
        path = ctx.folders.models / folder / name
        if not path.is_file():
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")
        return NodeResult(tuple(Loaded(kind, name) for kind in kinds))

    return run


def _lora(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    _loader("loras", "lora_name", ())(ctx, inputs)
    name = str(inputs["lora_name"])
    return NodeResult((Loaded("MODEL", f"{inputs['model']}+{name}"), inputs["clip"]))


MODEL_NODES = (
    NodeSpec(
        "CheckpointLoaderSimple",
        {"ckpt_name": _files_in("checkpoints")},
        ("MODEL", "CLIP", "VAE"),
        _loader("checkpoints", "ckpt_name", ("MODEL", "CLIP", "VAE")),
        category="loaders",
    ),
    NodeSpec(
        "LoraLoader",
        {
            "model": InputSpec("MODEL"),
            "clip": InputSpec("CLIP"),
            "lora_name": _files_in("loras"),
            "strength_model": float_input(1.0, -100.0, 100.0),
            "strength_clip": float_input(1.0, -100.0, 100.0),
        },
        ("MODEL", "CLIP"),
        _lora,
        category="loaders",
    ),
    NodeSpec(
        "VAELoader",
        {"vae_name": _files_in("vae")},
        ("VAE",),
        _loader("vae", "vae_name", ("VAE",)),
        category="loaders",
    ),
    NodeSpec(
        "UpscaleModelLoader",
        {"model_name": _files_in("upscale_models")},
        ("UPSCALE_MODEL",),
        _loader("upscale_models", "model_name", ("UPSCALE_MODEL",)),
        category="loaders",
    ),
)
