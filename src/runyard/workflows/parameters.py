"""Run-parameter validation, pure (no I/O): one error per bad parameter, defaults filled in.

File parameters are only checked for shape here; whether the key is a file of this team, uploaded,
unexpired and of an accepted type is checked by the run service, which can see the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from runyard.workflows.schemas import ParameterDef


@dataclass(frozen=True)
class ParamError:
    parameter: str
    error_code: str
    error_message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "parameter": self.parameter,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


def check_value(p: ParameterDef, value: Any) -> ParamError | None:
    """The error of one value against its definition, or None."""

    def err(code: str, msg: str) -> ParamError:
        return ParamError(p.key, code, msg)

    if p.type == "string":
        if not isinstance(value, str):
            return err("wrong_type", f"{p.key} must be a string.")
        if p.max_length is not None and len(value) > p.max_length:
            return err("too_long", f"{p.key} is longer than {p.max_length} characters.")
    elif p.type == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            return err("wrong_type", f"{p.key} must be a number.")
        if isinstance(value, int) and not _fits_a_float(value):
            return err("out_of_range", f"{p.key} must be within ±1.7e308.")
        if p.integer and float(value) != int(value):
            return err("not_integer", f"{p.key} must be a whole number.")
        if p.min is not None and value < p.min:
            return err("out_of_range", f"{p.key} must be at least {p.min:g}.")
        if p.max is not None and value > p.max:
            return err("out_of_range", f"{p.key} must be at most {p.max:g}.")
    elif p.type == "boolean":
        if not isinstance(value, bool):
            return err("wrong_type", f"{p.key} must be true or false.")
    elif p.type == "select":
        if not isinstance(value, str):
            return err("wrong_type", f"{p.key} must be a string.")
        if value not in (p.options or []):
            return err("not_in_options", f"{p.key} must be one of: {', '.join(p.options or [])}.")
    elif p.type == "file" and (not isinstance(value, str) or not value.strip()):
        return err("wrong_type", f"{p.key} must be a file_key from /r/files/presign.")
    return None


def _fits_a_float(value: int) -> bool:
    """JSON allows integers of any length; comparing one beyond a float's range with the
    bounds (or storing it) raises OverflowError."""
    try:
        float(value)
    except OverflowError:
        return False
    return True


def normalise(p: ParameterDef, value: Any) -> Any:
    if p.type == "number" and p.integer and isinstance(value, float):
        return int(value)
    return value


def resolve_parameters(
    defs: list[ParameterDef], given: dict[str, Any]
) -> tuple[dict[str, Any], list[ParamError]]:
    """(resolved parameters with defaults, errors). Unknown keys are errors."""
    errors: list[ParamError] = []
    resolved: dict[str, Any] = {}
    by_key = {p.key: p for p in defs}
    for key in given:
        if key not in by_key:
            errors.append(
                ParamError(
                    key,
                    "unknown_parameter",
                    f"{key} is not a parameter of this workflow "
                    f"(parameters: {', '.join(by_key) or 'none'}).",
                )
            )
    for p in defs:
        if p.key in given and given[p.key] is not None:
            problem = check_value(p, given[p.key])
            if problem:
                errors.append(problem)
            else:
                resolved[p.key] = normalise(p, given[p.key])
        elif p.default is not None:
            resolved[p.key] = p.default
        elif p.required:
            errors.append(ParamError(p.key, "missing_required", f"{p.key} is required."))
    return resolved, errors


def check_defaults(defs: list[ParameterDef]) -> list[str]:
    """Import-time check: every default satisfies its own constraints."""
    return [
        f"parameter {p.key!r}: default {p.default!r} is invalid: {problem.error_message}"
        for p in defs
        if p.default is not None and (problem := check_value(p, p.default)) is not None
    ]
