"""Built-in python workflows shipped with the agent: ``runyard_agent.builtins.<name>:run``.

- ``img2img``: one image in, one PNG out (enhance, grayscale, blur, sharpen, invert, autocontrast).
- ``echo``: returns a copy of its input file.
- ``sleep``: sleeps for ``seconds`` while reporting progress; a test helper for timeouts,
  cancellation and lost agents.

The helpers below read and check parameters; their errors carry code ``invalid_input``.
"""

from __future__ import annotations

from pathlib import Path

from runyard_agent.runtimes.base import TaskCancelledError, TaskContext, TaskFailedError

__all__ = ["check_cancelled", "input_file", "number_parameter"]


def input_file(ctx: TaskContext, key: str) -> Path:
    """The local path of file parameter ``key``; fails with ``invalid_input`` when it is missing."""
    path = ctx.input_files.get(key)
    if path is None or not path.is_file():
        raise TaskFailedError(f"parameter {key!r} needs a file; none was given", "invalid_input")
    return path


def number_parameter(ctx: TaskContext, key: str, default: float, low: float, high: float) -> float:
    """Parameter ``key`` as a float within [low, high]."""
    value = ctx.parameters.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TaskFailedError(f"parameter {key!r} must be a number, got {value!r}", "invalid_input")
    try:
        number = float(value)
    except ValueError as exc:
        raise TaskFailedError(
            f"parameter {key!r} must be a number, got {value!r}", "invalid_input"
        ) from exc
    if not low <= number <= high:
        raise TaskFailedError(
            f"parameter {key!r} must be between {low:g} and {high:g}, got {number:g}",
            "invalid_input",
        )
    return number


def check_cancelled(ctx: TaskContext) -> None:
    if ctx.cancelled:
        raise TaskCancelledError()
