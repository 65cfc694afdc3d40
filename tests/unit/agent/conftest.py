"""Fixtures for the agent's unit tests: a TaskContext on a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from runyard_agent.runtimes.base import ProgressReport, TaskContext


class ContextFactory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.reports: list[ProgressReport] = []

    def __call__(
        self,
        parameters: dict[str, Any] | None = None,
        files: dict[str, tuple[str, str, bytes]] | None = None,
    ) -> TaskContext:
        """files: parameter -> (file name, content type, bytes)."""
        work = self.root / "task-1"
        (work / "outputs").mkdir(parents=True, exist_ok=True)
        input_files: dict[str, Path] = {}
        names: dict[str, str] = {}
        types: dict[str, str] = {}
        for key, (name, content_type, data) in (files or {}).items():
            folder = work / "inputs" / key
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            input_files[key], names[key], types[key] = folder / name, name, content_type
        return TaskContext(
            task_id="task-1",
            attempt=1,
            parameters=dict(parameters or {}),
            input_files=input_files,
            input_names=names,
            input_types=types,
            work_dir=work,
            output_dir=work / "outputs",
            report=self.reports.append,
        )


@pytest.fixture
def make_ctx(tmp_path: Path) -> ContextFactory:
    return ContextFactory(tmp_path)


def sample_png(size: tuple[int, int] = (48, 32), mode: str = "RGB") -> bytes:
    """A small image with a gradient and some detail, so every operation changes it."""
    import io

    image = Image.new(mode, size)
    for x in range(size[0]):
        for y in range(size[1]):
            value = (x * 5 % 256, y * 7 % 256, (x * y) % 200 + 20)
            image.putpixel((x, y), value + ((x * 3) % 256,) if mode == "RGBA" else value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def png_bytes() -> bytes:
    return sample_png()


@pytest.fixture
def rgba_png_bytes() -> bytes:
    return sample_png(mode="RGBA")
