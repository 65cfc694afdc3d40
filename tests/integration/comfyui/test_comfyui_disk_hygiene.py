"""Disk hygiene: a task's uploads and collected outputs leave ComfyUI's folders afterwards."""

from __future__ import annotations

from pathlib import Path

from comfyui_helpers import INVERT_PARAMETERS, Standin, invert_graph, make_ctx, png_bytes, workflow

from runyard_agent.runtimes.base import TaskContext
from runyard_agent.runtimes.comfyui import ComfyUIRuntime

PHOTO = png_bytes((40, 90, 160))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _finish(ctx: TaskContext) -> None:
    """What the executor does once the outcome is final."""
    for callback in ctx.cleanup:
        callback()


async def test_uploads_and_outputs_are_removed_after_the_task(
    standin: Standin, tmp_path: Path
) -> None:
    runtime = ComfyUIRuntime(standin.url, http_timeout=10, files_dir=standin.data_dir)
    try:
        for attempt in (1, 2):  # the same graph twice: ComfyUI's cache must not replay
            ctx, _ = make_ctx(
                tmp_path / str(attempt),
                {"input_image": "k", "filename_prefix": "hyg/out"},
                {"input_image": ("photo.png", PHOTO)},
            )
            ctx.attempt = attempt
            outputs = await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)
            assert [o.output_id for o in outputs] == ["9.images.0"]
            assert outputs[0].path.read_bytes()  # the agent has its copy
            # Until the outcome is final, ComfyUI's copies stay (an upload may still need them).
            assert _files(standin.data_dir / "input") == [f"runyard/task-1-{attempt}/photo.png"]
            assert _files(standin.data_dir / "output") == ["hyg/out_00001_.png"]
            _finish(ctx)
            assert _files(standin.data_dir / "input") == []
            assert _files(standin.data_dir / "output") == []
    finally:
        await runtime.close()


async def test_keep_files_leaves_them(standin: Standin, tmp_path: Path) -> None:
    runtime = ComfyUIRuntime(
        standin.url, http_timeout=10, files_dir=standin.data_dir, keep_files=True
    )
    try:
        ctx, _ = make_ctx(tmp_path, {"input_image": "k"}, {"input_image": ("photo.png", PHOTO)})
        await runtime.run(workflow(invert_graph(), INVERT_PARAMETERS), ctx)
        _finish(ctx)
        assert _files(standin.data_dir / "input") == ["photo.png"]
        assert _files(standin.data_dir / "output") == ["runyard_00001_.png"]
    finally:
        await runtime.close()
