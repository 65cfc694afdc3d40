"""The built-in workflows: img2img, echo and sleep, called as the python runtime would."""

from __future__ import annotations

import io
import threading
from types import ModuleType

import pytest
from PIL import Image, ImageChops

from runyard_agent.builtins import echo, img2img, sleep
from runyard_agent.runtimes.base import (
    ProducedOutput,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.functions import produced, spec_of


def call(module: ModuleType, ctx: TaskContext) -> list[ProducedOutput]:
    """As the python runtime calls a decorated built-in: values from the context, checked."""
    spec = spec_of(module.run)
    assert spec is not None
    return produced(spec.call(ctx), ctx)


PROMPTS = ["enhance", "grayscale", "blur", "sharpen", "invert", "autocontrast"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_img2img_writes_a_png_that_differs_from_the_input(make_ctx, png_bytes, prompt):
    ctx = make_ctx(
        {"prompt": prompt, "strength": 0.5},
        {"input_image": ("photo.png", "image/png", png_bytes)},
    )
    outputs = call(img2img, ctx)

    assert [(o.output_id, o.content_type, o.file_name) for o in outputs] == [
        ("image", "image/png", "output.png")
    ]
    data = outputs[0].path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as result, Image.open(io.BytesIO(png_bytes)) as source:
        assert result.format == "PNG"
        assert result.size == source.size
        difference = ImageChops.difference(result.convert("RGB"), source.convert("RGB"))
        assert difference.getbbox() is not None, f"{prompt} left the image unchanged"
    assert ctx_reports_end_at_one(make_ctx)


def ctx_reports_end_at_one(factory) -> bool:
    fractions = [report.progress for report in factory.reports]
    return len(fractions) >= 3 and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_img2img_defaults_to_enhance_and_strength_zero_keeps_the_pixels(make_ctx, png_bytes):
    ctx = make_ctx({"strength": 0}, {"input_image": ("a.png", "image/png", png_bytes)})
    [output] = call(img2img, ctx)
    with Image.open(output.path) as result, Image.open(io.BytesIO(png_bytes)) as source:
        assert ImageChops.difference(result.convert("RGB"), source.convert("RGB")).getbbox() is None


def test_img2img_keeps_transparency(make_ctx, rgba_png_bytes):
    ctx = make_ctx({"prompt": "invert"}, {"input_image": ("a.png", "image/png", rgba_png_bytes)})
    [output] = call(img2img, ctx)
    with Image.open(output.path) as result, Image.open(io.BytesIO(rgba_png_bytes)) as source:
        assert result.mode == "RGBA"
        assert list(result.getchannel("A").getdata()) == list(source.getchannel("A").getdata())


def test_img2img_reads_jpeg_too(make_ctx, png_bytes):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png_bytes)).save(buffer, format="JPEG")
    ctx = make_ctx(
        {"prompt": "grayscale"}, {"input_image": ("a.jpg", "image/jpeg", buffer.getvalue())}
    )
    [output] = call(img2img, ctx)
    assert Image.open(output.path).format == "PNG"


@pytest.mark.parametrize(
    "payload",
    [b"this is plain text, not a picture\n", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40],
    ids=["text", "empty", "truncated-png"],
)
def test_img2img_refuses_a_file_that_is_not_an_image(make_ctx, payload):
    ctx = make_ctx({}, {"input_image": ("notes.png", "image/png", payload)})
    with pytest.raises(TaskFailedError) as caught:
        call(img2img, ctx)
    assert caught.value.code == "invalid_input"
    assert "notes.png" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert list(ctx.output_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"prompt": "make it pop"}, "'prompt' must be one of"),
        ({"strength": 1.5}, "at most 1"),
        ({"strength": "lots"}, "must be a number"),
        ({"strength": True}, "must be a number"),
    ],
)
def test_img2img_refuses_bad_parameters(make_ctx, png_bytes, parameters, fragment):
    ctx = make_ctx(parameters, {"input_image": ("a.png", "image/png", png_bytes)})
    with pytest.raises(TaskFailedError, match=fragment) as caught:
        call(img2img, ctx)
    assert caught.value.code == "invalid_input"


def test_img2img_without_an_image_fails_cleanly(make_ctx):
    with pytest.raises(TaskFailedError, match="input_image") as caught:
        call(img2img, make_ctx({"prompt": "blur"}))
    assert caught.value.code == "invalid_input"


def test_img2img_stops_when_cancelled(make_ctx, png_bytes):
    ctx = make_ctx({}, {"input_image": ("a.png", "image/png", png_bytes)})
    ctx.cancel_event.set()
    with pytest.raises(TaskCancelledError):
        call(img2img, ctx)
    assert not (ctx.output_dir / "output.png").exists()


def test_echo_copies_the_file_with_its_name_and_type(make_ctx):
    payload = bytes(range(256)) * 10
    ctx = make_ctx({}, {"input_file": ("report.bin", "application/x-thing", payload)})
    [output] = call(echo, ctx)
    assert (output.output_id, output.file_name, output.content_type) == (
        "file",
        "report.bin",
        "application/x-thing",
    )
    assert output.path.read_bytes() == payload
    assert output.path.parent == ctx.output_dir


def test_echo_never_writes_outside_the_output_dir(make_ctx):
    ctx = make_ctx({}, {"input_file": ("x.txt", "text/plain", b"hi")})
    ctx.input_names["input_file"] = "../../etc/passwd"
    [output] = call(echo, ctx)
    assert output.path.parent == ctx.output_dir
    assert output.file_name == "passwd"


def test_sleep_sleeps_reports_progress_and_writes_a_result(make_ctx):
    ctx = make_ctx({"seconds": 0.2})
    [output] = call(sleep, ctx)
    assert output.output_id == "result"
    assert output.path.read_text() == "slept 0.2 seconds\n"
    fractions = [report.progress for report in make_ctx.reports]
    assert len(fractions) >= 3 and fractions[-1] == 1.0


def test_sleep_stops_soon_after_a_cancel(make_ctx):
    import time

    ctx = make_ctx({"seconds": 30})
    threading.Timer(0.1, ctx.cancel_event.set).start()
    started = time.monotonic()
    with pytest.raises(TaskCancelledError):
        call(sleep, ctx)
    assert time.monotonic() - started < 2.0


def test_sleep_refuses_a_negative_duration(make_ctx):
    with pytest.raises(TaskFailedError, match="at least 0") as caught:
        call(sleep, make_ctx({"seconds": -1}))
    assert caught.value.code == "invalid_input"


def _pixels(data: bytes | str) -> list[tuple[int, ...]]:
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
        return list(image.convert("RGB").getdata())


def test_img2img_invert_at_the_default_strength_inverts_every_pixel(make_ctx, png_bytes):
    # Before: half the image blended with its inverse, flat (127, 127, 127) for any input.
    ctx = make_ctx({"prompt": "invert"}, {"input_image": ("a.png", "image/png", png_bytes)})
    [output] = call(img2img, ctx)
    source, result = _pixels(png_bytes), _pixels(str(output.path))
    assert len(set(result)) > 100
    assert result == [tuple(255 - c for c in pixel) for pixel in source]


@pytest.mark.parametrize("strength", [0.1, 0.5, 1.0])
def test_img2img_invert_is_full_at_any_strength_above_zero(make_ctx, png_bytes, strength):
    ctx = make_ctx(
        {"prompt": "invert", "strength": strength},
        {"input_image": ("a.png", "image/png", png_bytes)},
    )
    [output] = call(img2img, ctx)
    assert _pixels(str(output.path))[0] == tuple(255 - c for c in _pixels(png_bytes)[0])


def test_img2img_grayscale_strength_is_how_much_colour_goes(make_ctx, png_bytes):
    def spread(strength: float) -> float:
        ctx = make_ctx(
            {"prompt": "grayscale", "strength": strength},
            {"input_image": ("a.png", "image/png", png_bytes)},
        )
        [output] = call(img2img, ctx)
        pixels = _pixels(str(output.path))
        return sum(max(p) - min(p) for p in pixels) / len(pixels)

    full, half, none = spread(1.0), spread(0.5), spread(0.0)
    assert full < 1.5
    assert none > 40
    assert abs(half - none / 2) < 2
