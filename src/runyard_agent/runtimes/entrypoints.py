"""Importing a python workflow's entrypoint and checking what it returned: shared by the agent's
in-process runtime and a deployed task's child process (so this module stays light)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runyard_agent.runtimes.base import ProducedOutput, TaskFailedError

__all__ = ["normalise_outputs", "resolve_entrypoint"]

_ENTRYPOINT_HINT = 'set workflow_json to {"entrypoint": "package.module:function"}'


def resolve_entrypoint(entrypoint: object) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (the attribute may be dotted, e.g. ``Class.method``)."""
    if not isinstance(entrypoint, str) or entrypoint.count(":") != 1:
        raise TaskFailedError(
            f"invalid python entrypoint {entrypoint!r}: {_ENTRYPOINT_HINT}", code="invalid_workflow"
        )
    module_name, _, attribute = entrypoint.partition(":")
    if not module_name or not attribute:
        raise TaskFailedError(
            f"invalid python entrypoint {entrypoint!r}: {_ENTRYPOINT_HINT}", code="invalid_workflow"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TaskFailedError(
            f"module {exc.name or module_name!r} of entrypoint {entrypoint!r} is not installed on "
            "this agent: install the package that provides it or fix the workflow's entrypoint",
            code="invalid_workflow",
        ) from exc
    except Exception as exc:
        raise TaskFailedError(
            f"importing {module_name!r} failed with {type(exc).__name__}: {exc}",
            code="invalid_workflow",
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise TaskFailedError(
                f"entrypoint {entrypoint!r}: {module_name!r} has no attribute {attribute!r}; "
                "fix the function name in the workflow's entrypoint",
                code="invalid_workflow",
            ) from exc
    if not callable(target):
        raise TaskFailedError(
            f"entrypoint {entrypoint!r} is not a function; {_ENTRYPOINT_HINT}",
            code="invalid_workflow",
        )
    return target  # type: ignore[no-any-return]


def normalise_outputs(result: object, output_dir: Path, entrypoint: str) -> list[ProducedOutput]:
    """Check what the function returned and turn it into ``ProducedOutput`` objects."""
    if result is None:
        return []
    if not isinstance(result, list | tuple):
        raise TaskFailedError(
            f"{entrypoint} returned {type(result).__name__}; it must return a list of "
            "ProducedOutput",
            code="invalid_output",
        )
    outputs: list[ProducedOutput] = []
    for item in result:
        output = _as_output(item, entrypoint)
        path = output.path if output.path.is_absolute() else output_dir / output.path
        if not path.is_file():
            raise TaskFailedError(
                f"{entrypoint} returned output {output.output_id!r} at {path.name!r}, but no such "
                "file was written",
                code="invalid_output",
            )
        if not 1 <= len(output.output_id) <= 200:
            raise TaskFailedError(
                f"{entrypoint} returned an output_id of {len(output.output_id)} characters; "
                "use 1 to 200",
                code="invalid_output",
            )
        if any(existing.output_id == output.output_id for existing in outputs):
            raise TaskFailedError(
                f"{entrypoint} returned output_id {output.output_id!r} twice; ids must be unique",
                code="invalid_output",
            )
        outputs.append(
            ProducedOutput(output.output_id, path, output.content_type, output.file_name)
        )
    return outputs


def _as_output(item: object, entrypoint: str) -> ProducedOutput:
    if isinstance(item, ProducedOutput):
        return item
    if isinstance(item, Mapping):
        try:
            return ProducedOutput(
                output_id=str(item["output_id"]),
                path=Path(item["path"]),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                file_name=str(item["file_name"]) if item.get("file_name") else None,
            )
        except (KeyError, TypeError) as exc:
            raise TaskFailedError(
                f"{entrypoint} returned an output without {exc}; give output_id, path and "
                "content_type",
                code="invalid_output",
            ) from exc
    raise TaskFailedError(
        f"{entrypoint} returned a {type(item).__name__} in its output list; return "
        "ProducedOutput objects",
        code="invalid_output",
    )
