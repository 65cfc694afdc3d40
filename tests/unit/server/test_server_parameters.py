from __future__ import annotations

import pytest

from runyard.workflows.parameters import check_defaults, resolve_parameters
from runyard.workflows.schemas import ParameterDef


def defs() -> list[ParameterDef]:
    return [
        ParameterDef.model_validate(d)
        for d in (
            {"key": "image", "type": "file", "required": True, "accept": ["image/*"]},
            {"key": "prompt", "type": "select", "options": ["a", "b"], "default": "a"},
            {"key": "steps", "type": "number", "min": 1, "max": 50, "integer": True, "default": 20},
            {"key": "strength", "type": "number", "min": 0, "max": 1},
            {"key": "title", "type": "string", "max_length": 5},
            {"key": "hd", "type": "boolean", "default": False},
        )
    ]


def test_defaults_filled_and_whole_floats_accepted() -> None:
    resolved, errors = resolve_parameters(defs(), {"image": "inputs/x", "steps": 3.0})
    assert errors == []
    assert resolved == {"image": "inputs/x", "prompt": "a", "steps": 3, "hd": False}
    assert isinstance(resolved["steps"], int)


@pytest.mark.parametrize(
    ("given", "param", "code"),
    [
        ({}, "image", "missing_required"),
        ({"image": "k", "steps": 2.5}, "steps", "not_integer"),
        ({"image": "k", "steps": 0}, "steps", "out_of_range"),
        ({"image": "k", "steps": True}, "steps", "wrong_type"),
        ({"image": "k", "strength": float("nan")}, "strength", "wrong_type"),
        ({"image": "k", "strength": 10**400}, "strength", "out_of_range"),
        ({"image": "k", "steps": -(10**400)}, "steps", "out_of_range"),
        ({"image": "k", "title": "toolong"}, "title", "too_long"),
        ({"image": "k", "hd": "yes"}, "hd", "wrong_type"),
        ({"image": "k", "prompt": "c"}, "prompt", "not_in_options"),
        ({"image": "", "x": 1}, "x", "unknown_parameter"),
        ({"image": ""}, "image", "wrong_type"),
    ],
)
def test_each_error_names_its_parameter(given: dict[str, object], param: str, code: str) -> None:
    _, errors = resolve_parameters(defs(), given)
    assert (param, code) in {(e.parameter, e.error_code) for e in errors}


def test_all_errors_at_once() -> None:
    _, errors = resolve_parameters(defs(), {"steps": 99, "hd": 1, "nope": 2})
    assert {e.parameter for e in errors} == {"image", "steps", "hd", "nope"}


def test_defaults_must_satisfy_their_constraints() -> None:
    bad = [ParameterDef.model_validate({"key": "n", "type": "number", "max": 1, "default": 2})]
    assert check_defaults(bad) and "n" in check_defaults(bad)[0]


@pytest.mark.parametrize(
    "raw",
    [
        {"key": "x", "type": "select"},
        {"key": "x", "type": "string", "min": 1},
        {"key": "x", "type": "file", "default": "k"},
        {"key": "x", "type": "number", "min": 2, "max": 1},
        {"key": "x", "type": "string", "node_id": "1"},
        {"key": "bad key", "type": "string"},
    ],
)
def test_invalid_definitions(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ParameterDef.model_validate(raw)
