"""A typed Python workflow (docs/python.md): `runyard workflows deploy examples/python`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image, ImageOps

from runyard_agent import File, Param, TaskContext, workflow

log = logging.getLogger(__name__)


@workflow("thumbnail", labels=["cpu"], timeout=300)
def thumbnail(
    ctx: TaskContext,
    image: File["image/*"],
    size: Annotated[int, Param(ge=16, le=4096)] = 256,
    mode: Literal["fit", "fill"] = "fit",
) -> Path:
    """Makes a PNG thumbnail of an image.

    Args:
        image: The picture to shrink.
        size: The longest side of the thumbnail, in pixels.
        mode: `fit` keeps the whole picture; `fill` crops it to a square.
    """
    ctx.progress(0.1, "opening")
    with Image.open(image) as opened:
        picture = ImageOps.exif_transpose(opened).convert("RGB")
    print(f"read {picture.width}x{picture.height}")
    if mode == "fill":
        picture = ImageOps.fit(picture, (size, size))
    else:
        picture.thumbnail((size, size))
    log.info("thumbnail is %dx%d", picture.width, picture.height)
    target = ctx.output_dir / "thumbnail.png"
    picture.save(target, format="PNG")
    ctx.progress(1.0, "done")
    return target
