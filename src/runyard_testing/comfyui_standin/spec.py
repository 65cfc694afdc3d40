"""What a stand-in node is: its inputs (as ``/object_info`` lists them), outputs and function.

An ``IMAGE`` value is a batch (``list[FloatImage]``: float32 RGB in 0..1, as ComfyUI's tensors);
a ``VIDEO`` is ``Video``; model loaders produce opaque ``Loaded`` values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runyard_testing.comfyui_standin.images import FloatImage

# The folders ComfyUI's /models lists; the stand-in scans ``models/<folder>`` under its data dir.
# Like the real server it also lists two folders that hold no models: ``configs`` (model config
# YAMLs) and ``custom_nodes`` (the custom nodes' source, ``<data dir>/custom_nodes``, every file).
MODEL_FOLDERS = (
    "checkpoints",
    "clip",
    "clip_vision",
    "configs",
    "controlnet",
    "custom_nodes",
    "diffusion_models",
    "embeddings",
    "loras",
    "upscale_models",
    "vae",
)
MODEL_SUFFIXES = (".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft")


class InterruptedByUser(Exception):
    """Raised inside a node when ``/interrupt`` landed (ComfyUI's InterruptProcessingException)."""


@dataclass(frozen=True)
class Folders:
    input: Path
    output: Path
    temp: Path
    models: Path

    @property
    def custom_nodes(self) -> Path:
        return self.models.parent / "custom_nodes"

    def for_type(self, kind: str) -> Path | None:
        return {"input": self.input, "output": self.output, "temp": self.temp}.get(kind)

    def model_files(self, folder: str) -> list[str]:
        """``models/<folder>`` files as ComfyUI lists them: relative paths, sorted."""
        base = self.custom_nodes if folder == "custom_nodes" else self.models / folder
        if not base.is_dir():
            return []
        every_file = folder in ("configs", "custom_nodes")
        return sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and (every_file or p.suffix.lower() in MODEL_SUFFIXES)
        )

    def input_files(self) -> list[str]:
        if not self.input.is_dir():
            return []
        return sorted(p.name for p in self.input.iterdir() if p.is_file())


@dataclass(frozen=True)
class InputSpec:
    """One input: ``kind`` is IMAGE/INT/FLOAT/STRING/BOOLEAN/COMBO/* or a value type (MODEL…).

    ``config`` is the options dict of ``/object_info`` (default, min, max, step…); a COMBO's
    ``choices`` are fixed, or listed at call time by ``choices_of`` (files in a folder)."""

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    choices_of: Callable[[Folders], list[str]] | None = None

    @property
    def min(self) -> float | None:
        value = self.config.get("min")
        return float(value) if isinstance(value, int | float) else None

    @property
    def max(self) -> float | None:
        value = self.config.get("max")
        return float(value) if isinstance(value, int | float) else None

    def options(self, folders: Folders) -> list[str] | None:
        if self.kind != "COMBO":
            return None
        return self.choices_of(folders) if self.choices_of else list(self.choices)

    def info(self, folders: Folders) -> list[Any]:
        """The ``[type, options]`` pair ``/object_info`` and ``input_config`` carry."""
        options = self.options(folders)
        return [options if options is not None else self.kind, dict(self.config)]


@dataclass
class NodeContext:
    """What a running node sees: folders, its delay, a progress hook that checks interrupt, and
    a way to send binary frames to the prompt's socket."""

    folders: Folders
    delay: float
    progress: Callable[[int, int], None]
    send_bytes: Callable[[bytes], None] = lambda payload: None
    # A live preview of a sampler-like node's work (a JPEG frame when --preview-size is set).
    preview: Callable[[FloatImage, int, int], None] = lambda image, step, total: None

    def sleep_whole(self) -> None:
        # A node without progress reports cannot be interrupted part-way (cooperative interrupt).
        if self.delay > 0:
            time.sleep(self.delay)


@dataclass(frozen=True)
class NodeResult:
    values: tuple[Any, ...]
    ui: dict[str, Any] | None = None


@dataclass(frozen=True)
class NodeSpec:
    class_type: str
    required: dict[str, InputSpec]
    return_types: tuple[str, ...]
    run: Callable[[NodeContext, dict[str, Any]], NodeResult]
    output_node: bool = False
    # Returns True or a reason string (ComfyUI's VALIDATE_INPUTS).
    validate: Callable[[Folders, dict[str, Any]], bool | str] | None = None
    # Extra cache key, like ComfyUI's IS_CHANGED (LoadImage hashes its file).
    fingerprint: Callable[[Folders, dict[str, Any]], str] | None = None
    optional: dict[str, InputSpec] = field(default_factory=dict)
    category: str = "image"
    # Changing output: never cached (PreviewImage's random names, websocket sends).
    not_idempotent: bool = False

    def object_info(self, folders: Folders) -> dict[str, Any]:
        """This node's entry in ``GET /object_info``."""
        return {
            "input": {
                "required": {n: s.info(folders) for n, s in self.required.items()},
                **(
                    {"optional": {n: s.info(folders) for n, s in self.optional.items()}}
                    if self.optional
                    else {}
                ),
            },
            "input_order": {
                "required": list(self.required),
                **({"optional": list(self.optional)} if self.optional else {}),
            },
            "output": list(self.return_types),
            "output_is_list": [False] * len(self.return_types),
            "output_name": list(self.return_types),
            "name": self.class_type,
            "display_name": self.class_type,
            "description": "",
            "python_module": "nodes",
            "category": self.category,
            "output_node": self.output_node,
        }


def int_input(default: int, lo: int, hi: int, step: int = 1) -> InputSpec:
    return InputSpec("INT", {"default": default, "min": lo, "max": hi, "step": step})


def float_input(default: float, lo: float, hi: float, step: float = 0.01) -> InputSpec:
    return InputSpec("FLOAT", {"default": default, "min": lo, "max": hi, "step": step})


def string_input(default: str = "", **extra: Any) -> InputSpec:
    return InputSpec("STRING", {"default": default, **extra})


def combo(*choices: str, **config: Any) -> InputSpec:
    return InputSpec("COMBO", dict(config), choices=choices)


IMAGE = InputSpec("IMAGE")
