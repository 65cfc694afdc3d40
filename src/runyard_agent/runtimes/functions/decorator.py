"""``@workflow``: a typed Python function becomes a workflow definition, and is called with the
values of a task (files as local paths), its return value becoming the task's outputs."""

from __future__ import annotations

import inspect
import math
import mimetypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from runyard_agent.runtimes.base import ProducedOutput, TaskContext, TaskFailedError
from runyard_agent.runtimes.functions.signature import (
    ParamSpec,
    WorkflowSignatureError,
    docstring_parts,
    read_signature,
)

__all__ = ["WorkflowFunction", "find_workflows", "produced", "spec_of", "workflow"]

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__runyard_workflow__"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class WorkflowFunction:
    """What ``@workflow`` learnt of a function: enough to define it and to call it."""

    function: Callable[..., Any]
    slug: str
    display_name: str
    description: str
    labels: tuple[str, ...]
    timeout: int
    max_retries: int
    parameters: tuple[ParamSpec, ...]
    context: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    # Per-task limits in the task's process (deployed code only; ``runtimes/limits.py``).
    memory_mb: float | None = None
    cpu_seconds: float | None = None

    @property
    def entrypoint(self) -> str:
        return f"{self.function.__module__}:{self.function.__name__}"

    def definition(self, workflow_json: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The definition ``POST /workflows/import`` takes (``workflow_json`` defaults to the
        entrypoint alone)."""
        return {
            "workflow_slug": self.slug,
            "display_name": self.display_name,
            "description": self.description,
            "tool_type": "python",
            "workflow_json": dict(workflow_json or {"entrypoint": self.entrypoint}),
            "parameters": [dict(p.definition) for p in self.parameters],
            "required_labels": list(self.labels),
            "task_timeout": self.timeout,
            "max_retries": self.max_retries,
            **self.extra,
        }

    def call(self, ctx: TaskContext) -> object:
        """Call the function with the task's values (checked as the server checks them)."""
        kwargs: dict[str, Any] = {}
        if self.context is not None:
            kwargs[self.context] = ctx
        for spec in self.parameters:
            kwargs[spec.name] = _value(spec, ctx)
        return self.function(**kwargs)

    def outputs(self, result: object, ctx: TaskContext) -> list[ProducedOutput]:
        """The function's return value as outputs; values other than files go to
        ``ctx.values``."""
        return produced(result, ctx)


def workflow(
    slug: str,
    *,
    labels: list[str] | tuple[str, ...] = (),
    timeout: int = 600,
    max_retries: int = 2,
    display_name: str | None = None,
    priority: int | None = None,
    memory_mb: float | None = None,
    cpu_seconds: float | None = None,
) -> Callable[[F], F]:
    """Declare a workflow: ``@workflow("thumbnail", labels=["cpu"], timeout=300)``.

    ``memory_mb`` and ``cpu_seconds`` limit each task of a deployed version (the address space
    and the CPU time it may add in its process): over one, the task fails with
    ``resource_limit_exceeded``.

    The function is returned unchanged (it stays callable and typed as written); its parameters,
    defaults, bounds and choices, and the docstring, make the workflow's definition. A
    signature that cannot be a workflow raises ``WorkflowSignatureError`` naming the parameter.
    """
    if not _SLUG.match(slug) or not 2 <= len(slug) <= 100:
        raise WorkflowSignatureError(
            f"workflow slug {slug!r}: use 2-100 lower-case letters, digits and single dashes"
        )
    for label in labels:
        if not _LABEL.match(label):
            raise WorkflowSignatureError(f"workflow {slug!r}: invalid label {label!r}")
    if not 1 <= timeout <= 7 * 86_400:
        raise WorkflowSignatureError(f"workflow {slug!r}: timeout must be 1 to 604800 seconds")
    for name, limit in (("memory_mb", memory_mb), ("cpu_seconds", cpu_seconds)):
        if limit is not None and not limit > 0:
            raise WorkflowSignatureError(f"workflow {slug!r}: {name} must be more than 0")

    def decorate(function: F) -> F:
        if inspect.iscoroutinefunction(function):
            raise WorkflowSignatureError(
                f"{function.__qualname__}: a workflow function must be a plain `def` (each task "
                "runs in its own process; an async function can call asyncio.run inside)"
            )
        specs, context = read_signature(function)
        description, _ = docstring_parts(function)
        setattr(
            function,
            ATTRIBUTE,
            WorkflowFunction(
                function=function,
                slug=slug,
                display_name=display_name or slug,
                description=description[:10_000],
                labels=tuple(labels),
                timeout=timeout,
                max_retries=max_retries,
                parameters=tuple(specs),
                context=context,
                extra={} if priority is None else {"priority": priority},
                memory_mb=memory_mb,
                cpu_seconds=cpu_seconds,
            ),
        )
        return function

    return decorate


def spec_of(target: object) -> WorkflowFunction | None:
    spec = getattr(target, ATTRIBUTE, None)
    return spec if isinstance(spec, WorkflowFunction) else None


def find_workflows(module: object) -> list[WorkflowFunction]:
    """The decorated functions defined in ``module`` (not the ones it imported)."""
    found = []
    name = getattr(module, "__name__", None)
    for value in vars(module).values():
        spec = spec_of(value)
        if spec is not None and spec.function.__module__ == name:
            found.append(spec)
    return found


def _invalid(message: str) -> TaskFailedError:
    return TaskFailedError(message, "invalid_input")


def _value(spec: ParamSpec, ctx: TaskContext) -> Any:
    entry = spec.definition
    if spec.kind == "file":
        path = ctx.input_files.get(spec.name)
        if path is None:
            if entry["required"]:
                raise _invalid(f"parameter {spec.name!r} needs a file; none was given")
            return None
        return path
    value = ctx.parameters.get(spec.name)
    if value is None:
        if entry["required"]:
            raise _invalid(f"parameter {spec.name!r} is required")
        return entry.get("default")
    if spec.kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _invalid(f"parameter {spec.name!r} must be a number, got {value!r}")
        if "min" in entry and value < entry["min"]:
            raise _invalid(f"parameter {spec.name!r} must be at least {entry['min']:g}")
        if "max" in entry and value > entry["max"]:
            raise _invalid(f"parameter {spec.name!r} must be at most {entry['max']:g}")
        if spec.integer:
            if float(value) != int(value):
                raise _invalid(f"parameter {spec.name!r} must be a whole number, got {value!r}")
            return int(value)
        return float(value)
    if spec.kind == "boolean" and not isinstance(value, bool):
        raise _invalid(f"parameter {spec.name!r} must be true or false, got {value!r}")
    if spec.kind in ("string", "select") and not isinstance(value, str):
        raise _invalid(f"parameter {spec.name!r} must be a string, got {value!r}")
    if spec.kind == "select" and value not in entry["options"]:
        raise _invalid(
            f"parameter {spec.name!r} must be one of {', '.join(entry['options'])}; got {value!r}"
        )
    if spec.kind == "string" and len(value) > entry.get("max_length", math.inf):
        raise _invalid(f"parameter {spec.name!r} is longer than {entry['max_length']} characters")
    return value


def _file_output(output_id: str, path: Path, ctx: TaskContext) -> ProducedOutput:
    full = path if path.is_absolute() else ctx.output_dir / path
    content_type = mimetypes.guess_type(full.name)[0] or "application/octet-stream"
    return ProducedOutput(output_id, full, content_type, full.name)


def produced(result: object, ctx: TaskContext) -> list[ProducedOutput]:
    """A return value as outputs: ``None`` nothing; a ``Path`` (or ``ProducedOutput``) one file,
    output id ``result``; a list or tuple of them ``result_1``, ``result_2``… (a
    ``ProducedOutput`` keeps its own id); a dict, one output per key (paths are files, anything
    else a value); any other JSON value, the value ``result``."""
    if result is None:
        return []
    if isinstance(result, ProducedOutput):
        return [result]
    if isinstance(result, Path):
        return [_file_output("result", result, ctx)]
    if isinstance(result, list | tuple):
        outputs = []
        for index, item in enumerate(result, start=1):
            if isinstance(item, ProducedOutput):
                outputs.append(item)
            elif isinstance(item, Path):
                outputs.append(_file_output(f"result_{index}", item, ctx))
            else:
                raise TaskFailedError(
                    f"the function returned a list holding a {type(item).__name__}; a list may "
                    "hold only Path or ProducedOutput (return a dict for values)",
                    "invalid_output",
                )
        return outputs
    if isinstance(result, Mapping):
        outputs = []
        for key, item in result.items():
            if isinstance(item, Path):
                outputs.append(_file_output(str(key), item, ctx))
            else:
                ctx.values[str(key)] = item
        return outputs
    ctx.values["result"] = result
    return []
