"""Model-free image nodes (ComfyUI's ``nodes.py`` and ``comfy_extras``): inputs as ComfyUI
0.3.64 declares them; inversion exact to ComfyUI's float32 rounding, other maths approximate."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps

import runyard_testing.comfyui_standin.console as console
from runyard_testing.comfyui_standin.images import FloatImage, invert
from runyard_testing.comfyui_standin.spec import (
    IMAGE,
    Folders,
    InputSpec,
    NodeContext,
    NodeResult,
    NodeSpec,
    combo,
    float_input,
    int_input,
    string_input,
)

Batch = list[FloatImage]
MAX_RESOLUTION = 16384
SCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
_RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
BLUR_STEPS = 4


def input_path(folders: Folders, name: str) -> Path:
    name = re.sub(r" \[(input|output|temp)\]$", "", name)
    return folders.input / name


def _load_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    with Image.open(input_path(ctx.folders, str(inputs["image"]))) as img:
        rgba = img.convert("RGBA")
    return NodeResult(([FloatImage.from_pil(rgba)], [rgba.getchannel("A")]))


def _validate_load_image(folders: Folders, inputs: dict[str, Any]) -> bool | str:
    image = str(inputs.get("image", ""))
    if ".." in image or not input_path(folders, image).is_file():
        return f"Invalid image file: {image}"
    return True


def _hash_load_image(folders: Folders, inputs: dict[str, Any]) -> str:
    path = input_path(folders, str(inputs.get("image", "")))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _invert(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    return NodeResult(([invert(img) for img in inputs["image"]],))


def _blur(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    # ImageBlur reports progress and previews here (the real one does not) so tests see
    # `progress` messages and preview frames, and can interrupt part-way through a node.
    for step in range(1, BLUR_STEPS + 1):
        if ctx.delay > 0:
            time.sleep(ctx.delay / BLUR_STEPS)
        ctx.progress(step, BLUR_STEPS)
        console.bar(step, BLUR_STEPS)  # a sampler's tqdm bar
        # Like a sampler's callback: the progress message, then a preview of the work so far.
        ctx.preview(inputs["image"][0], step, BLUR_STEPS)
    radius = float(inputs["sigma"]) * int(inputs["blur_radius"]) / 3
    blur = ImageFilter.GaussianBlur(radius)
    return NodeResult(([img.via_pil(lambda p: p.filter(blur)) for img in inputs["image"]],))


def _sharpen(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    unsharp = ImageFilter.UnsharpMask(
        radius=int(inputs["sharpen_radius"]), percent=int(float(inputs["alpha"]) * 100)
    )
    return NodeResult(([img.via_pil(lambda p: p.filter(unsharp)) for img in inputs["image"]],))


def _scaled(img: Image.Image, inputs: dict[str, Any]) -> Image.Image:
    width, height = int(inputs["width"]), int(inputs["height"])
    if width == 0 and height == 0:
        return img.copy()
    width = width or max(1, round(img.width * height / img.height))
    height = height or max(1, round(img.height * width / img.width))
    resample = _RESAMPLE[str(inputs["upscale_method"])]
    if inputs["crop"] == "center":
        return ImageOps.fit(img, (width, height), method=resample)
    return img.resize((width, height), resample)


def _scale(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    return NodeResult(([img.via_pil(lambda p: _scaled(p, inputs)) for img in inputs["image"]],))


def _empty(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    color = int(inputs["color"])
    rgb = ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)
    width, height = int(inputs["width"]), int(inputs["height"])
    batch = [FloatImage.filled(width, height, rgb) for _ in range(int(inputs["batch_size"]))]
    return NodeResult((batch,))


def _image_batch(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    first: Batch = inputs["image1"]
    second: Batch = inputs["image2"]
    size = (first[0].width, first[0].height)
    if (second[0].width, second[0].height) != size:
        second = [
            img.via_pil(lambda p: p.resize(size, Image.Resampling.BILINEAR)) for img in second
        ]
    return NodeResult((first + second,))


def _repeat_batch(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    return NodeResult((list(inputs["image"]) * int(inputs["amount"]),))


def _from_batch(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    batch: Batch = inputs["image"]
    index = min(len(batch) - 1, int(inputs["batch_index"]))
    length = min(len(batch) - index, int(inputs["length"]))
    return NodeResult((batch[index : index + length],))


def _primitive(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    return NodeResult((inputs["value"],))


IMAGE_NODES = (
    NodeSpec(
        "LoadImage",
        {"image": InputSpec("COMBO", {"image_upload": True}, choices_of=Folders.input_files)},
        ("IMAGE", "MASK"),
        _load_image,
        validate=_validate_load_image,
        fingerprint=_hash_load_image,
    ),
    NodeSpec("ImageInvert", {"image": IMAGE}, ("IMAGE",), _invert),
    NodeSpec(
        "ImageBlur",
        {
            "image": IMAGE,
            "blur_radius": int_input(1, 1, 31),
            "sigma": float_input(1.0, 0.1, 10.0, 0.1),
        },
        ("IMAGE",),
        _blur,
        category="image/postprocessing",
    ),
    NodeSpec(
        "ImageSharpen",
        {
            "image": IMAGE,
            "sharpen_radius": int_input(1, 1, 31),
            "sigma": float_input(1.0, 0.1, 10.0),
            "alpha": float_input(1.0, 0.0, 5.0),
        },
        ("IMAGE",),
        _sharpen,
        category="image/postprocessing",
    ),
    NodeSpec(
        "ImageScale",
        {
            "image": IMAGE,
            "upscale_method": combo(*SCALE_METHODS),
            "width": int_input(512, 0, MAX_RESOLUTION),
            "height": int_input(512, 0, MAX_RESOLUTION),
            "crop": combo("disabled", "center"),
        },
        ("IMAGE",),
        _scale,
        category="image/upscaling",
    ),
    NodeSpec(
        "EmptyImage",
        {
            "width": int_input(512, 1, MAX_RESOLUTION),
            "height": int_input(512, 1, MAX_RESOLUTION),
            "batch_size": int_input(1, 1, 4096),
            "color": InputSpec(
                "INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1, "display": "color"}
            ),
        },
        ("IMAGE",),
        _empty,
    ),
    NodeSpec("ImageBatch", {"image1": IMAGE, "image2": IMAGE}, ("IMAGE",), _image_batch),
    NodeSpec(
        "RepeatImageBatch",
        {"image": IMAGE, "amount": int_input(1, 1, 4096)},
        ("IMAGE",),
        _repeat_batch,
        category="image/batch",
    ),
    NodeSpec(
        "ImageFromBatch",
        {
            "image": IMAGE,
            "batch_index": int_input(0, 0, 4095),
            "length": int_input(1, 1, 4096),
        },
        ("IMAGE",),
        _from_batch,
        category="image/batch",
    ),
    NodeSpec(
        "PrimitiveString",
        {"value": string_input()},
        ("STRING",),
        _primitive,
        category="utils/primitive",
    ),
    NodeSpec(
        "PrimitiveInt",
        {"value": int_input(0, -sys.maxsize, sys.maxsize)},
        ("INT",),
        _primitive,
        category="utils/primitive",
    ),
)
