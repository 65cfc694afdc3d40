"""Typed workflow functions: ``@workflow``, ``File``, ``Param`` and what reads them.

A decorated function's signature is its workflow's definition (``WorkflowFunction.definition``),
and the same object calls it for a task (``WorkflowFunction.call``) and turns what it returns
into outputs (``produced``). ``runyard workflows deploy`` and ``runyard workflows test`` read the
definition locally; the agent's child processes call the function.
"""

from runyard_agent.runtimes.functions.decorator import (
    WorkflowFunction,
    find_workflows,
    produced,
    spec_of,
    workflow,
)
from runyard_agent.runtimes.functions.signature import WorkflowSignatureError
from runyard_agent.runtimes.functions.types import File, FileSpec, Param

__all__ = [
    "File",
    "FileSpec",
    "Param",
    "WorkflowFunction",
    "WorkflowSignatureError",
    "find_workflows",
    "produced",
    "spec_of",
    "workflow",
]
