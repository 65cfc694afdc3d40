"""The console lines of a running task (``task.log.v1``), agent to server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runyard_protocol.base import Frame as _Frame

MAX_LOG_LINES = 500  # per task.log.v1 frame
MAX_LOG_LINE = 8192  # characters per line; longer ones are cut by the agent


class LogLine(_Frame):
    stream: Literal["stdout", "stderr"]
    line: str = Field(max_length=MAX_LOG_LINE)


class TaskLog(_Frame):
    """Console lines of a running task (its process's stdout and stderr, ``logging`` included),
    in order. ``dropped``: lines the agent left out just before these (its rate limit);
    ``truncated``: the task's log reached the agent's budget and no more lines follow.

    An addition within protocol 2: a server that does not know it answers ``error.v1``
    (``protocol_error``)."""

    type: Literal["task.log.v1"] = "task.log.v1"
    task_id: str
    attempt: int
    lines: list[LogLine] = Field(default_factory=list, max_length=MAX_LOG_LINES)
    dropped: int = Field(default=0, ge=0)
    truncated: bool = False
