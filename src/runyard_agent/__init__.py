"""The Runyard agent: dials out to the server, runs assigned tasks, reports back; and the typed
decorator Python workflows are written with.

Writing a workflow (see docs/python.md)::

    from runyard_agent import workflow, File, Param, TaskContext

    @workflow("thumbnail", labels=["cpu"], timeout=300)
    def thumbnail(ctx: TaskContext, image: File["image/*"],
                  size: Annotated[int, Param(ge=16, le=4096)] = 256) -> Path: ...

In-process use of the agent (tests, ``runyard dev``)::

    agent = Agent(AgentOptions(agent_key="ak-...", agent_id="box-1", server_url="http://..."))
    runner = asyncio.create_task(agent.run())
    await agent.wait_ready()
    ...
    agent.stop()          # drain: finish or release running tasks, close with 1000
    await runner

The command line is ``runyard agent`` / ``python -m runyard_agent`` (see ``cli.py``). The agent's
classes are imported on first use, so a workflow module (and each task's child process) does not
load the agent's connection stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runyard_agent.runtimes.base import (
    ProducedOutput,
    TaskCancelledError,
    TaskContext,
    TaskFailedError,
)
from runyard_agent.runtimes.functions import File, Param, WorkflowSignatureError, workflow

if TYPE_CHECKING:
    from runyard_agent.connection import Agent, ConnectionState
    from runyard_agent.options import AgentOptions, AgentRejectedError, Backoff, agent_version

__all__ = [
    "Agent",
    "AgentOptions",
    "AgentRejectedError",
    "Backoff",
    "ConnectionState",
    "File",
    "Param",
    "ProducedOutput",
    "TaskCancelledError",
    "TaskContext",
    "TaskFailedError",
    "WorkflowSignatureError",
    "agent_version",
    "workflow",
]

_LAZY = {
    "Agent": "runyard_agent.connection",
    "ConnectionState": "runyard_agent.connection",
    "AgentOptions": "runyard_agent.options",
    "AgentRejectedError": "runyard_agent.options",
    "Backoff": "runyard_agent.options",
    "agent_version": "runyard_agent.options",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runyard_agent' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
