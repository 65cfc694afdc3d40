"""Built-in ``sleep`` (a test helper): sleeps ``seconds`` in small steps, then writes a text file.

It reports progress at every step and stops within one step of a cancellation, which makes it
the workflow of choice for timeout, cancellation and lost-agent tests.
"""

from __future__ import annotations

import time
from typing import Annotated

from runyard_agent.builtins import check_cancelled
from runyard_agent.runtimes.base import ProducedOutput, TaskContext
from runyard_agent.runtimes.functions import Param, workflow

OUTPUT_ID = "result"
STEP_SECONDS = 0.05
MAX_SECONDS = 24 * 3600.0


@workflow("sleep", labels=["cpu"], timeout=300, display_name="Sleep")
def run(
    ctx: TaskContext, seconds: Annotated[float, Param(ge=0, le=MAX_SECONDS)] = 1.0
) -> ProducedOutput:
    """Sleeps for `seconds`, reporting progress, then writes a text file."""
    started = time.monotonic()
    deadline = started + seconds
    while (now := time.monotonic()) < deadline:
        check_cancelled(ctx)
        ctx.progress((now - started) / seconds, f"slept {now - started:.1f}s of {seconds:g}s")
        ctx.cancel_event.wait(min(STEP_SECONDS, deadline - now))
    check_cancelled(ctx)
    ctx.progress(1.0, "done")
    target = ctx.output_dir / "sleep.txt"
    target.write_text(f"slept {seconds:g} seconds\n", encoding="utf-8")
    return ProducedOutput(OUTPUT_ID, target, "text/plain", "sleep.txt")
