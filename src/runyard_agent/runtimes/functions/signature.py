"""From a typed function to the parameter list of a workflow definition (the format
``POST /workflows/import`` takes): one entry per parameter, types, defaults, bounds and choices
read from the annotations, descriptions from ``Param`` or the docstring's ``Args:`` section."""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from runyard_agent.runtimes.base import TaskContext
from runyard_agent.runtimes.functions.types import File, FileSpec, Param

__all__ = ["ParamSpec", "WorkflowSignatureError", "docstring_parts", "read_signature"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SUPPORTED = (
    "str, int, float, bool, Literal[...] of strings, File[...] or Path "
    "(each may be Annotated with Param(...) and made optional with `| None = None`)"
)


class WorkflowSignatureError(TypeError):
    """A workflow function whose signature cannot be turned into a definition."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its definition entry and how to hand a value to the function."""

    name: str
    kind: Literal["string", "number", "boolean", "select", "file"]
    definition: dict[str, Any]
    integer: bool = False


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        inner, more = _split_annotated(base)
        return inner, more + list(extras)
    return annotation, []


def _fail(function: str, name: str, why: str) -> WorkflowSignatureError:
    return WorkflowSignatureError(f"{function}: parameter {name!r} {why}")


def _one(function: str, name: str, annotation: Any, default: Any, doc: str) -> ParamSpec:  # noqa: C901 - one branch per supported type reads best flat
    base, extras = _split_annotated(annotation)
    base, optional = _unwrap_optional(base)
    inner, more = _split_annotated(base)
    base, extras = inner, extras + more
    params = [e for e in extras if isinstance(e, Param)]
    files = [e for e in extras if isinstance(e, FileSpec)]
    param = params[-1] if params else Param()
    entry: dict[str, Any] = {
        "key": name,
        "label": param.label or name.replace("_", " ").capitalize(),
    }
    description = param.description or doc
    if description:
        entry["description"] = description
    has_default = default is not inspect.Parameter.empty
    if optional and not has_default:
        raise _fail(function, name, "is optional (`| None`) but has no default; add `= None`")
    entry["required"] = not has_default
    kind: Literal["string", "number", "boolean", "select", "file"]
    integer = False
    if files or base is Path or base is File:
        kind = "file"
        accept = list(files[-1].accept) if files else []
        if accept:
            entry["accept"] = accept
        if has_default and default is not None:
            raise _fail(function, name, "is a file and cannot have a default other than None")
    elif base is bool:
        kind = "boolean"
    elif base is int or base is float:
        kind, integer = "number", base is int
        if integer:
            entry["integer"] = True
        if param.ge is not None:
            entry["min"] = param.ge
        if param.le is not None:
            entry["max"] = param.le
    elif base is str:
        kind = "string"
        if param.max_length is not None:
            entry["max_length"] = param.max_length
    elif typing.get_origin(base) is Literal:
        options = typing.get_args(base)
        if not options or not all(isinstance(o, str) for o in options):
            raise _fail(function, name, f"is {annotation!r}: Literal choices must all be strings")
        kind = "select"
        entry["options"] = list(options)
    else:
        shown = getattr(annotation, "__name__", None) or repr(annotation)
        if annotation is inspect.Parameter.empty:
            raise _fail(function, name, f"has no type annotation; annotate it with {_SUPPORTED}")
        raise _fail(
            function, name, f"has type {shown}, which a workflow cannot take; use {_SUPPORTED}"
        )
    if (param.ge is not None or param.le is not None) and kind != "number":
        raise _fail(function, name, "has Param(ge=/le=) but is not an int or a float")
    if param.max_length is not None and kind != "string":
        raise _fail(function, name, "has Param(max_length=) but is not a str")
    if has_default and default is not None:
        entry["default"] = default
    entry["type"] = kind
    return ParamSpec(name, kind, entry, integer)


def docstring_parts(function: Any) -> tuple[str, dict[str, str]]:
    """The docstring without its ``Args:`` section, and that section's text per parameter."""
    doc = inspect.getdoc(function) or ""
    kept: list[str] = []
    args: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            if line and not line.startswith(" "):
                in_args = False
            else:
                match = re.match(r"^\s{2,8}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
                if match:
                    current = match.group(1)
                    args[current] = match.group(2).strip()
                elif current and line.strip():
                    args[current] = f"{args[current]} {line.strip()}".strip()
                continue
        kept.append(line)
    return "\n".join(kept).strip(), args


def read_signature(function: Any) -> tuple[list[ParamSpec], str | None]:
    """The workflow parameters of ``function`` and the name of its ``TaskContext`` parameter."""
    name = getattr(function, "__qualname__", repr(function))
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as exc:
        raise WorkflowSignatureError(f"{name}: its annotations cannot be evaluated: {exc}") from exc
    _, docs = docstring_parts(function)
    specs: list[ParamSpec] = []
    context: str | None = None
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise _fail(name, parameter.name, "is *args/**kwargs; declare each parameter by name")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise _fail(name, parameter.name, "is positional-only; remove the `/`")
        annotation = hints.get(parameter.name, inspect.Parameter.empty)
        if annotation is TaskContext:
            context = parameter.name
            continue
        if not _KEY.match(parameter.name):
            raise _fail(name, parameter.name, "is not a valid key (ASCII letters, digits, _)")
        specs.append(
            _one(name, parameter.name, annotation, parameter.default, docs.get(parameter.name, ""))
        )
    return specs, context
