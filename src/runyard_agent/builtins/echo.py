"""Built-in ``echo``: returns a copy of ``input_file`` under its original name and content type."""

from __future__ import annotations

import shutil
from typing import Annotated

from runyard_agent.builtins import check_cancelled
from runyard_agent.runtimes.base import ProducedOutput, TaskContext
from runyard_agent.runtimes.functions import File, Param, workflow
from runyard_agent.transfer import safe_name

OUTPUT_ID = "file"


@workflow("echo", labels=["cpu"], timeout=300, display_name="Echo")
def run(ctx: TaskContext, input_file: Annotated[File, Param(label="Input file")]) -> ProducedOutput:
    """Returns a copy of its input file."""
    name = safe_name(ctx.input_names.get("input_file", input_file.name), "file")
    content_type = ctx.input_types.get("input_file") or "application/octet-stream"
    check_cancelled(ctx)
    ctx.progress(0.1, "copying")
    target = ctx.output_dir / name
    shutil.copyfile(input_file, target)
    check_cancelled(ctx)
    ctx.progress(1.0, "done")
    return ProducedOutput(OUTPUT_ID, target, content_type, name)
