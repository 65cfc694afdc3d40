"""Built-in ``img2img``: apply one Pillow operation to ``input_image`` and return a PNG.

Parameters (contract section 8): ``input_image`` (file), ``prompt`` (one of ``PROMPTS``, default
``enhance``) and ``strength`` (0-1, default 0.5). Each operation is blended with the original by
``strength`` (blur uses it as its radius instead), so ``strength`` 0 returns the image unchanged
and any higher value changes every image that has some detail. The output is ``output.png`` with
output_id ``image``; transparency is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

from runyard_agent.builtins import check_cancelled, input_file, number_parameter
from runyard_agent.runtimes.base import ProducedOutput, TaskContext, TaskFailedError

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
    return Image.blend(image, ImageOps.invert(image), strength)


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


def run(ctx: TaskContext) -> list[ProducedOutput]:
    source = input_file(ctx, "input_image")
    prompt = ctx.parameters.get("prompt") or "enhance"
    if prompt not in PROMPTS:
        raise TaskFailedError(
            f"prompt must be one of {', '.join(PROMPTS)}; got {prompt!r}", "invalid_input"
        )
    strength = number_parameter(ctx, "strength", default=0.5, low=0.0, high=1.0)
    name = ctx.input_names.get("input_image", source.name)

    ctx.progress(0.05, "opening image")
    image = _open(source, name)
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
    return [ProducedOutput(OUTPUT_ID, target, "image/png", OUTPUT_NAME)]


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
