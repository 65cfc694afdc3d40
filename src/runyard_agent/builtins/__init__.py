"""Built-in python workflows shipped with the agent, written with ``@workflow``:
``runyard_agent.builtins.<name>:run``.

- ``img2img``: one image in, one PNG out (enhance, grayscale, blur, sharpen, invert, autocontrast).
- ``echo``: returns a copy of its input file.
- ``sleep``: sleeps for ``seconds`` while reporting progress; a test helper for timeouts,
  cancellation and lost agents.

They run in the agent's own process (they are part of it); deployed workflows run in a child
process per task. The server's copy of their definitions (``runyard.workflows.builtins``) is
checked against these signatures by a test.
"""

from __future__ import annotations

from runyard_agent.runtimes.base import TaskCancelledError, TaskContext

__all__ = ["check_cancelled"]


def check_cancelled(ctx: TaskContext) -> None:
    if ctx.cancelled:
        raise TaskCancelledError()
