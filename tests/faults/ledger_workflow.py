"""The fault suite's workflow: a Python function the agents import (``PYTHONPATH`` holds the
repository root). It appends ``<task_id> <attempt> <agent_id>`` to the agent's ledger file as it
starts, so the suite counts executions agent-side, then sleeps ``seconds`` (attempt 1:
``first_attempt_seconds`` when given) and produces no output (no uploads: the store never
decides an outcome here)."""

from __future__ import annotations

import os

from runyard_agent.runtimes.base import ProducedOutput, TaskCancelledError, TaskContext

LEDGER_ENV = "RUNYARD_FAULTS_LEDGER"
AGENT_ENV = "RUNYARD_FAULTS_AGENT"


def record(path: str, line: str) -> None:
    # One write(2) of a short line with O_APPEND: whole lines, even with concurrent tasks.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def run(ctx: TaskContext) -> list[ProducedOutput]:
    record(
        os.environ[LEDGER_ENV],
        f"{ctx.task_id} {ctx.attempt} {os.environ.get(AGENT_ENV, '?')}\n",
    )
    seconds = float(ctx.parameters.get("seconds") or 0)
    first = float(ctx.parameters.get("first_attempt_seconds") or 0)
    if ctx.attempt == 1 and first:
        seconds = first  # e.g. long enough for a test to kill the agent mid-task, reliably
    if seconds > 0 and ctx.cancel_event.wait(seconds):
        raise TaskCancelledError()
    return []
