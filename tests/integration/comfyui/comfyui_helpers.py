"""Helpers for the ComfyUI runtime tests: images, task contexts, graphs."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from runyard_agent.runtimes.base import ProgressReport, TaskContext
from runyard_protocol import AssignedWorkflow


@dataclass
class Standin:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def history(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/history")
        return result


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (16, 12)) -> bytes:
    image = Image.new("RGB", size, color)
    for x in range(size[0]):
        image.putpixel((x, x % size[1]), (x * 15 % 256, 200, 30))  # not a flat image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Recorder:
    reports: list[ProgressReport] = field(default_factory=list)
    hooks: list[Callable[[ProgressReport], None]] = field(default_factory=list)

    def __call__(self, report: ProgressReport) -> None:
        self.reports.append(report)
        for hook in self.hooks:
            hook(report)


def make_ctx(
    tmp_path: Path,
    parameters: dict[str, Any] | None = None,
    files: dict[str, tuple[str, bytes]] | None = None,
) -> tuple[TaskContext, Recorder]:
    work = tmp_path / "work"
    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    input_files: dict[str, Path] = {}
    input_names: dict[str, str] = {}
    for key, (name, data) in (files or {}).items():
        path = inputs / f"{key}.bin"  # downloaded under another name, as the executor does
        path.write_bytes(data)
        input_files[key] = path
        input_names[key] = name
    recorder = Recorder()
    ctx = TaskContext(
        task_id="task-1",
        attempt=1,
        parameters=dict(parameters or {}),
        input_files=input_files,
        input_names=input_names,
        input_types={key: "image/png" for key in input_files},
        work_dir=work,
        output_dir=work / "outputs",
        report=recorder,
    )
    return ctx, recorder


def workflow(
    graph: dict[str, Any], parameters: list[dict[str, Any]] | None = None
) -> AssignedWorkflow:
    return AssignedWorkflow(
        id="wf-1",
        slug="test",
        version=1,
        tool_type="comfyui",
        workflow_json=graph,
        parameters=parameters or [],
    )


def invert_graph(prefix: str = "runyard", *, blur: bool = False) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }
    if blur:
        graph["3"] = {
            "class_type": "ImageBlur",
            "inputs": {"image": ["2", 0], "blur_radius": 3, "sigma": 1.0},
        }
        graph["9"]["inputs"]["images"] = ["3", 0]
    return graph


INVERT_PARAMETERS: list[dict[str, Any]] = [
    {"key": "input_image", "type": "file", "node_id": "1", "field": "image"},
    {"key": "filename_prefix", "type": "string", "node_id": "9", "field": "filename_prefix"},
]
