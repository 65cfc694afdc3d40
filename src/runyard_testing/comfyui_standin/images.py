"""Images as ComfyUI holds them: float32 RGB in 0..1, with its exact float32 rounding.

ComfyUI loads a PNG as ``np.array(img).astype(np.float32) / 255.0`` and saves with
``np.clip(255. * image, 0, 255).astype(np.uint8)``, which truncates: an inverted image is one
lower than ``255 - v`` in about 62 % of values. ``array('f')`` stores float32, so each operation
below rounds once to float32 exactly as numpy does, without numpy.
"""

from __future__ import annotations

import io
import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageOps

# uint8 → float32 in 0..1, as LoadImage computes it.
_TO_FLOAT = array("f", [v / 255.0 for v in range(256)])


@dataclass(frozen=True)
class FloatImage:
    width: int
    height: int
    data: array  # type: ignore[type-arg]  # float32, RGB interleaved, row-major

    @classmethod
    def from_pil(cls, image: Image.Image) -> FloatImage:
        rgb = image.convert("RGB")
        table = _TO_FLOAT
        return cls(rgb.width, rgb.height, array("f", [table[b] for b in rgb.tobytes()]))

    @classmethod
    def filled(cls, width: int, height: int, rgb: tuple[int, int, int]) -> FloatImage:
        pixel = array("f", [_TO_FLOAT[c] for c in rgb])
        return cls(width, height, pixel * (width * height))

    def map(self, fn: Callable[[float], float]) -> FloatImage:
        # Elementwise, computed in double and stored as float32: one rounding, like numpy.
        return FloatImage(self.width, self.height, array("f", map(fn, self.data)))

    def to_uint8(self) -> bytes:
        scaled = array("f", [255.0 * x for x in self.data])
        return bytes(0 if x <= 0 else 255 if x >= 255 else int(x) for x in scaled)

    def to_pil(self) -> Image.Image:
        """What SaveImage writes (truncating)."""
        return Image.frombytes("RGB", (self.width, self.height), self.to_uint8())

    def via_pil(self, fn: Callable[[Image.Image], Image.Image]) -> FloatImage:
        """Approximate maths (blur, scale, sharpen) done by Pillow on the saved pixels."""
        return FloatImage.from_pil(fn(self.to_pil()))


def invert(image: FloatImage) -> FloatImage:
    return image.map(lambda x: 1.0 - x)


def preview_frame(image: FloatImage, size: int, done: float, max_size: int) -> bytes:
    """A binary preview frame as ComfyUI sends a sampler's latent preview: event type 1
    (PREVIEW_IMAGE) and format 1 (JPEG), big-endian uint32 each, then the JPEG. The picture is
    the image at ``size`` x ``size`` emerging from noise as ``done`` goes from 0 to 1, then
    scaled (up or down, bilinear, aspect kept) to fit ``max_size`` x ``max_size`` as ComfyUI
    scales every preview (its ``--preview-size``, 512 by default): a 64x64 preview arrives as a
    512x512 JPEG."""
    noise = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    picture = Image.blend(noise, image.to_pil().resize((size, size)), max(0.0, min(1.0, done)))
    picture = ImageOps.contain(picture, (max_size, max_size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=95)
    return (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + buffer.getvalue()
