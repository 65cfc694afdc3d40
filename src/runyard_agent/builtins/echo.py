"""Built-in ``echo``: returns a copy of ``input_file`` under its original name and content type."""

from __future__ import annotations

import shutil

from runyard_agent.builtins import check_cancelled, input_file
from runyard_agent.runtimes.base import ProducedOutput, TaskContext
from runyard_agent.transfer import safe_name

OUTPUT_ID = "file"


def run(ctx: TaskContext) -> list[ProducedOutput]:
    source = input_file(ctx, "input_file")
    name = safe_name(ctx.input_names.get("input_file", source.name), "file")
    content_type = ctx.input_types.get("input_file") or "application/octet-stream"
    check_cancelled(ctx)
    ctx.progress(0.1, "copying")
    target = ctx.output_dir / name
    shutil.copyfile(source, target)
    check_cancelled(ctx)
    ctx.progress(1.0, "done")
    return [ProducedOutput(OUTPUT_ID, target, content_type, name)]
