"""The model-free core nodes the stand-in can run, with their input definitions.

An ``IMAGE`` value is a batch: a list of RGB Pillow images. Each node mirrors the inputs, ranges
and output-node flag of the ComfyUI node of the same name; the image maths is approximate.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps

Batch = list[Image.Image]
MAX_RESOLUTION = 16384
SCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
_RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class InterruptedByUser(Exception):
    """Raised inside a node when ``/interrupt`` landed (ComfyUI's InterruptProcessingException)."""


@dataclass(frozen=True)
class Folders:
    input: Path
    output: Path
    temp: Path

    def for_type(self, kind: str) -> Path | None:
        return {"input": self.input, "output": self.output, "temp": self.temp}.get(kind)


@dataclass(frozen=True)
class InputSpec:
    """``kind`` is IMAGE/INT/FLOAT/STRING, or COMBO with ``choices``."""

    kind: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()


@dataclass
class NodeContext:
    """What a running node sees: folders, its delay, and a progress hook that checks interrupt."""

    folders: Folders
    delay: float
    progress: Callable[[int, int], None]

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


def _input_path(folders: Folders, name: str) -> Path:
    name = re.sub(r" \[(input|output|temp)\]$", "", name)
    return folders.input / name


def _load_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    with Image.open(_input_path(ctx.folders, str(inputs["image"]))) as img:
        rgba = img.convert("RGBA")
    mask = rgba.getchannel("A")
    return NodeResult(([rgba.convert("RGB")], [mask]))


def _validate_load_image(folders: Folders, inputs: dict[str, Any]) -> bool | str:
    image = str(inputs.get("image", ""))
    path = _input_path(folders, image)
    if ".." in image or not path.is_file():
        return f"Invalid image file: {image}"
    return True


def _hash_load_image(folders: Folders, inputs: dict[str, Any]) -> str:
    path = _input_path(folders, str(inputs.get("image", "")))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _invert(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    return NodeResult(([ImageOps.invert(img) for img in inputs["image"]],))


BLUR_STEPS = 4


def _blur(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    # ImageBlur reports progress here (the real one does not) so tests see `progress` messages
    # and can interrupt part-way through a node.
    for step in range(1, BLUR_STEPS + 1):
        if ctx.delay > 0:
            time.sleep(ctx.delay / BLUR_STEPS)
        ctx.progress(step, BLUR_STEPS)
    radius = float(inputs["sigma"]) * int(inputs["blur_radius"]) / 3
    return NodeResult(([img.filter(ImageFilter.GaussianBlur(radius)) for img in inputs["image"]],))


def _sharpen(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    unsharp = ImageFilter.UnsharpMask(
        radius=int(inputs["sharpen_radius"]), percent=int(float(inputs["alpha"]) * 100)
    )
    return NodeResult(([img.filter(unsharp) for img in inputs["image"]],))


def _scale(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    out: Batch = []
    for img in inputs["image"]:
        width, height = int(inputs["width"]), int(inputs["height"])
        if width == 0 and height == 0:
            out.append(img.copy())
            continue
        width = width or max(1, round(img.width * height / img.height))
        height = height or max(1, round(img.height * width / img.width))
        resample = _RESAMPLE[str(inputs["upscale_method"])]
        if inputs["crop"] == "center":
            out.append(ImageOps.fit(img, (width, height), method=resample))
        else:
            out.append(img.resize((width, height), resample))
    return NodeResult((out,))


def _empty(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    color = int(inputs["color"])
    rgb = ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)
    size = (int(inputs["width"]), int(inputs["height"]))
    return NodeResult(([Image.new("RGB", size, rgb) for _ in range(int(inputs["batch_size"]))],))


def save_image_path(prefix: str, output_dir: Path) -> tuple[Path, str, str, int]:
    """ComfyUI's get_save_image_path: ``probe/out`` → folder ``probe``, next ``out_NNNNN_``."""
    subfolder, filename = os.path.split(os.path.normpath(prefix))
    full_folder = output_dir / subfolder
    if os.path.commonpath((output_dir.resolve(), full_folder.resolve())) != str(
        output_dir.resolve()
    ):
        raise Exception(
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {full_folder.resolve()}"
            f"\n         output_dir: {output_dir}"
            f"\n         commonpath: {os.path.commonpath((output_dir, full_folder.resolve()))}"
        )
    pattern = re.compile(rf"^{re.escape(filename)}_(\d+)_")
    counters = [
        int(m.group(1))
        for p in (full_folder.iterdir() if full_folder.is_dir() else [])
        if (m := pattern.match(p.name))
    ]
    return full_folder, filename, subfolder, max(counters, default=0) + 1


def _save(ctx: NodeContext, inputs: dict[str, Any], *, kind: str, prefix: str) -> NodeResult:
    ctx.sleep_whole()
    base = ctx.folders.output if kind == "output" else ctx.folders.temp
    folder, filename, subfolder, counter = save_image_path(prefix, base)
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for img in inputs["images"]:
        name = f"{filename}_{counter:05}_.png"
        img.save(folder / name, format="PNG")
        images.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return NodeResult((), {"images": images})


def _save_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    return _save(ctx, inputs, kind="output", prefix=str(inputs["filename_prefix"]))


def _preview_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
    return _save(ctx, inputs, kind="temp", prefix=f"ComfyUI_temp_{suffix}")


def _int(lo: int, hi: int) -> InputSpec:
    return InputSpec("INT", lo, hi)


def _float(lo: float, hi: float) -> InputSpec:
    return InputSpec("FLOAT", lo, hi)


_IMAGE = InputSpec("IMAGE")
NODES: dict[str, NodeSpec] = {
    spec.class_type: spec
    for spec in (
        NodeSpec(
            "LoadImage",
            {"image": InputSpec("COMBO")},
            ("IMAGE", "MASK"),
            _load_image,
            validate=_validate_load_image,
            fingerprint=_hash_load_image,
        ),
        NodeSpec("ImageInvert", {"image": _IMAGE}, ("IMAGE",), _invert),
        NodeSpec(
            "ImageBlur",
            {"image": _IMAGE, "blur_radius": _int(1, 31), "sigma": _float(0.1, 10.0)},
            ("IMAGE",),
            _blur,
        ),
        NodeSpec(
            "ImageSharpen",
            {
                "image": _IMAGE,
                "sharpen_radius": _int(1, 31),
                "sigma": _float(0.1, 10.0),
                "alpha": _float(0.0, 5.0),
            },
            ("IMAGE",),
            _sharpen,
        ),
        NodeSpec(
            "ImageScale",
            {
                "image": _IMAGE,
                "upscale_method": InputSpec("COMBO", choices=SCALE_METHODS),
                "width": _int(0, MAX_RESOLUTION),
                "height": _int(0, MAX_RESOLUTION),
                "crop": InputSpec("COMBO", choices=("disabled", "center")),
            },
            ("IMAGE",),
            _scale,
        ),
        NodeSpec(
            "EmptyImage",
            {
                "width": _int(1, MAX_RESOLUTION),
                "height": _int(1, MAX_RESOLUTION),
                "batch_size": _int(1, 4096),
                "color": _int(0, 0xFFFFFF),
            },
            ("IMAGE",),
            _empty,
        ),
        NodeSpec(
            "SaveImage",
            {"images": _IMAGE, "filename_prefix": InputSpec("STRING")},
            (),
            _save_image,
            output_node=True,
        ),
        NodeSpec("PreviewImage", {"images": _IMAGE}, (), _preview_image, output_node=True),
    )
}
