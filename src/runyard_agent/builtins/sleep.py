"""Built-in ``sleep`` (a test helper): sleeps ``seconds`` in small steps, then writes a text file.

It reports progress at every step and stops within one step of a cancellation, which makes it
the workflow of choice for timeout, cancellation and lost-agent tests.
"""

from __future__ import annotations

import time

from runyard_agent.builtins import check_cancelled, number_parameter
from runyard_agent.runtimes.base import ProducedOutput, TaskContext

OUTPUT_ID = "result"
STEP_SECONDS = 0.05
MAX_SECONDS = 24 * 3600.0


def run(ctx: TaskContext) -> list[ProducedOutput]:
    seconds = number_parameter(ctx, "seconds", default=1.0, low=0.0, high=MAX_SECONDS)
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
    return [ProducedOutput(OUTPUT_ID, target, "text/plain", "sleep.txt")]
