"""Output nodes: what each writes and the ``ui`` dict it reports in ``executed`` and history.

SaveImage/PreviewImage (``images``), SaveAnimatedWEBP/SaveAnimatedPNG and SaveVideo
(``images`` + ``animated: [true]``), PreviewAny (``text``), SaveImageWebsocket (binary frames,
no files, ``{}``) as ComfyUI 0.3.64 does, and VideoHelperSuite's VHS_VideoCombine (``gifs``), the
most common custom output node. The "mp4" SaveVideo writes is an MP4 header followed by PNG frames:
the right name and type, not a playable video (no encoder here).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard_testing.comfyui_standin.images import FloatImage
from runyard_testing.comfyui_standin.spec import (
    IMAGE,
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


@dataclass(frozen=True)
class Video:
    frames: tuple[FloatImage, ...]
    fps: float

    def __str__(self) -> str:
        return f"<VideoFromComponents {len(self.frames)} frames at {self.fps:g} fps>"


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
        img.to_pil().save(folder / name, format="PNG", compress_level=4 if kind == "output" else 1)
        images.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return NodeResult((), {"images": images})


def _save_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    return _save(ctx, inputs, kind="output", prefix=str(inputs["filename_prefix"]))


def _preview_image(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
    return _save(ctx, inputs, kind="temp", prefix=f"ComfyUI_temp_{suffix}")


def _animated(ctx: NodeContext, inputs: dict[str, Any], fmt: str) -> NodeResult:
    ctx.sleep_whole()
    folder, filename, subfolder, counter = save_image_path(
        str(inputs["filename_prefix"]), ctx.folders.output
    )
    folder.mkdir(parents=True, exist_ok=True)
    frames = [img.to_pil() for img in inputs["images"]]
    ext = "webp" if fmt == "WEBP" else "png"
    name = f"{filename}_{counter:05}_.{ext}"
    duration = int(1000.0 / float(inputs["fps"]))
    extra: dict[str, Any] = (
        {"lossless": bool(inputs["lossless"]), "quality": int(inputs["quality"])}
        if fmt == "WEBP"
        else {"compress_level": int(inputs["compress_level"])}
    )
    frames[0].save(
        folder / name,
        format=fmt,
        save_all=True,
        append_images=frames[1:],
        duration=duration,
        loop=0,
        **extra,
    )
    animated = len(frames) != 1 if fmt == "WEBP" else True
    ui = {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}]}
    return NodeResult((), {**ui, "animated": [animated]})


def _create_video(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    return NodeResult((Video(tuple(inputs["images"]), float(inputs["fps"])),))


def _save_video(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    video: Video = inputs["video"]
    folder, filename, subfolder, counter = save_image_path(
        str(inputs["filename_prefix"]), ctx.folders.output
    )
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{filename}_{counter:05}_.mp4"
    with (folder / name).open("wb") as handle:
        handle.write(struct.pack(">I", 24) + b"ftypisom" + b"\0\0\2\0" + b"isomiso2")
        for frame in video.frames:
            png = io.BytesIO()
            frame.to_pil().save(png, format="PNG")
            handle.write(struct.pack(">I", 8 + len(png.getvalue())) + b"free" + png.getvalue())
    ui = {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}]}
    return NodeResult((), {**ui, "animated": [True]})


def _preview_any(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    source = inputs.get("source")
    value = "None"
    if isinstance(source, str):
        value = source
    elif isinstance(source, int | float | bool):
        value = str(source)
    elif source is not None:
        try:
            value = json.dumps(source)
        except Exception:
            value = str(source)
    return NodeResult((), {"text": [value]})


def _save_image_websocket(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    # custom_nodes/websocket_image_save.py: each image goes out as a progress step carrying an
    # "unencoded preview": `progress`, then a binary frame (type 1 PREVIEW_IMAGE, format 2 PNG).
    images: Batch = inputs["images"]
    for step, img in enumerate(images):
        png = io.BytesIO()
        img.to_pil().save(png, format="PNG", compress_level=1)
        ctx.progress(step, len(images))
        ctx.send_bytes(struct.pack(">II", 1, 2) + png.getvalue())
    return NodeResult((), {})


def _video_combine(ctx: NodeContext, inputs: dict[str, Any]) -> NodeResult:
    ctx.sleep_whole()
    save = bool(inputs.get("save_output", True))
    base = ctx.folders.output if save else ctx.folders.temp
    folder, filename, subfolder, _ = save_image_path(str(inputs["filename_prefix"]), base)
    folder.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"^{re.escape(filename)}_(\d+)\.")
    counter = 1 + max(
        (int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))), default=0
    )
    fmt = str(inputs["format"])
    ext = "webp" if fmt == "image/webp" else "gif"
    name = f"{filename}_{counter:05}.{ext}"
    frames = [img.to_pil() for img in inputs["images"]]
    duration = int(1000.0 / float(inputs["frame_rate"]))
    frames[0].save(
        folder / name, save_all=True, append_images=frames[1:], duration=duration, loop=0
    )
    entry = {
        "filename": name,
        "subfolder": subfolder,
        "type": "output" if save else "temp",
        "format": fmt,
        "frame_rate": float(inputs["frame_rate"]),
        "workflow": f"{filename}_{counter:05}.png",
        "fullpath": str(folder / name),
    }
    return NodeResult((save, [str(folder / name)]), {"gifs": [entry]})


OUTPUT_NODES = (
    NodeSpec(
        "SaveImage",
        {"images": IMAGE, "filename_prefix": string_input("ComfyUI")},
        (),
        _save_image,
        output_node=True,
    ),
    NodeSpec("PreviewImage", {"images": IMAGE}, (), _preview_image, output_node=True),
    NodeSpec(
        "SaveAnimatedWEBP",
        {
            "images": IMAGE,
            "filename_prefix": string_input("ComfyUI"),
            "fps": float_input(6.0, 0.01, 1000.0),
            "lossless": InputSpec("BOOLEAN", {"default": True}),
            "quality": int_input(80, 0, 100),
            "method": combo("default", "fastest", "slowest"),
        },
        (),
        lambda ctx, inputs: _animated(ctx, inputs, "WEBP"),
        output_node=True,
        category="image/animation",
    ),
    NodeSpec(
        "SaveAnimatedPNG",
        {
            "images": IMAGE,
            "filename_prefix": string_input("ComfyUI"),
            "fps": float_input(6.0, 0.01, 1000.0),
            "compress_level": int_input(4, 0, 9),
        },
        (),
        lambda ctx, inputs: _animated(ctx, inputs, "PNG"),
        output_node=True,
        category="image/animation",
    ),
    NodeSpec(
        "CreateVideo",
        {"images": IMAGE, "fps": float_input(30.0, 1.0, 120.0, 1.0)},
        ("VIDEO",),
        _create_video,
        optional={"audio": InputSpec("AUDIO")},
        category="image/video",
    ),
    NodeSpec(
        "SaveVideo",
        {
            "video": InputSpec("VIDEO"),
            "filename_prefix": string_input("video/ComfyUI"),
            "format": combo("auto", "mp4"),
            "codec": combo("auto", "h264"),
        },
        (),
        _save_video,
        output_node=True,
        category="image/video",
    ),
    NodeSpec(
        "PreviewAny",
        {"source": InputSpec("*")},
        (),
        _preview_any,
        output_node=True,
        category="utils",
    ),
    NodeSpec(
        "SaveImageWebsocket",
        {"images": IMAGE},
        (),
        _save_image_websocket,
        output_node=True,
        category="api node/image",
        not_idempotent=True,
    ),
    NodeSpec(
        "VHS_VideoCombine",
        {
            "images": IMAGE,
            "frame_rate": float_input(8.0, 1.0, 1000.0, 1.0),
            "loop_count": int_input(0, 0, 100),
            "filename_prefix": string_input("AnimateDiff"),
            "format": combo("image/gif", "image/webp"),
            "pingpong": InputSpec("BOOLEAN", {"default": False}),
            "save_output": InputSpec("BOOLEAN", {"default": True}),
        },
        ("VHS_FILENAMES",),
        _video_combine,
        output_node=True,
        category="Video Helper Suite 🎥🅥🅗🅢",
    ),
)
