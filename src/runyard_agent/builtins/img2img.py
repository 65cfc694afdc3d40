"""Built-in ``img2img``: apply one Pillow operation to ``input_image`` and return a PNG.

Parameters (contract section 8): ``input_image`` (file), ``prompt`` (one of ``PROMPTS``, default
``enhance``) and ``strength`` (0-1, default 0.5). ``strength`` 0 always returns the image
unchanged; above 0 it means, per operation, what a user expects of it:

- enhance, grayscale, sharpen, autocontrast: how much of the effect (a blend with the original,
  so 0.5 is half desaturated, half sharpened...);
- blur: the radius (0.5 to 8 pixels);
- invert: an image has no "half inverse" (a half-and-half blend with its inverse is flat gray,
  127,127,127 for any input), so any strength above 0 inverts fully.

The output is ``output.png`` with output_id ``image``; transparency is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

from runyard_agent.builtins import check_cancelled
from runyard_agent.runtimes.base import ProducedOutput, TaskContext, TaskFailedError
from runyard_agent.runtimes.functions import File, Param, workflow

OUTPUT_ID = "image"
OUTPUT_NAME = "output.png"


def _enhance(image: Image.Image, strength: float) -> Image.Image:
    stretched = ImageOps.autocontrast(image, cutoff=1)
    vivid = ImageEnhance.Color(stretched).enhance(1.6)
    bright = ImageEnhance.Brightness(vivid).enhance(1.1)
    return Image.blend(image, ImageEnhance.Sharpness(bright).enhance(2.0), strength)


def _grayscale(image: Image.Image, strength: float) -> Image.Image:
    return Image.blend(image, ImageOps.grayscale(image).convert("RGB"), strength)


def _blur(image: Image.Image, strength: float) -> Image.Image:
    if strength <= 0:
        return image.copy()
    return image.filter(ImageFilter.GaussianBlur(radius=0.5 + 7.5 * strength))


def _sharpen(image: Image.Image, strength: float) -> Image.Image:
    sharpened = image.filter(ImageFilter.UnsharpMask(radius=2, percent=250, threshold=0))
    return Image.blend(image, sharpened, strength)


def _invert(image: Image.Image, strength: float) -> Image.Image:
    return ImageOps.invert(image) if strength > 0 else image.copy()


def _autocontrast(image: Image.Image, strength: float) -> Image.Image:
    return Image.blend(image, ImageOps.autocontrast(image, cutoff=2), strength)


PROMPTS: dict[str, Callable[[Image.Image, float], Image.Image]] = {
    "enhance": _enhance,
    "grayscale": _grayscale,
    "blur": _blur,
    "sharpen": _sharpen,
    "invert": _invert,
    "autocontrast": _autocontrast,
}


Prompt = Literal["enhance", "grayscale", "blur", "sharpen", "invert", "autocontrast"]


@workflow("img2img", labels=["cpu"], timeout=300, display_name="Image to image")
def run(
    ctx: TaskContext,
    input_image: Annotated[File[Literal["image/*"]], Param(label="Input image")],
    prompt: Annotated[Prompt, Param(label="Operation")] = "enhance",
    strength: Annotated[float, Param(ge=0, le=1, label="Strength")] = 0.5,
) -> ProducedOutput:
    """Applies an operation to an image and returns one PNG."""
    name = ctx.input_names.get("input_image", input_image.name)
    ctx.progress(0.05, "opening image")
    image = _open(input_image, name)
    check_cancelled(ctx)
    ctx.progress(0.3, f"applying {prompt}")
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    result = PROMPTS[prompt](image.convert("RGB"), strength)
    if alpha is not None:
        result.putalpha(alpha)
    check_cancelled(ctx)
    ctx.progress(0.8, "saving PNG")
    target = ctx.output_dir / OUTPUT_NAME
    result.save(target, format="PNG")
    check_cancelled(ctx)
    ctx.progress(1.0, "done")
    return ProducedOutput(OUTPUT_ID, target, "image/png", OUTPUT_NAME)


def _open(path: Path, name: str) -> Image.Image:
    """Decode the whole image now so a broken file fails here, as ``invalid_input``."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except UnidentifiedImageError as exc:
        raise TaskFailedError(
            f"input_image {name!r} is not an image this agent can read (PNG, JPEG, WebP, GIF, "
            "BMP, TIFF...)",
            "invalid_input",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise TaskFailedError(f"input_image {name!r} is too large: {exc}", "invalid_input") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise TaskFailedError(
            f"input_image {name!r} could not be decoded ({exc}); it may be truncated or corrupt",
            "invalid_input",
        ) from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
