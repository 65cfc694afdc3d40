"""Hypothesis fuzz of the run-parameter validator and the workflow bounds: any JSON a client
sends gives resolved values or per-parameter errors, never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runyard.workflows.bounds import comfyui_graph_problem, json_depth_exceeds
from runyard.workflows.parameters import check_defaults, check_value, resolve_parameters
from runyard.workflows.schemas import ParameterDef

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CODES = {
    "wrong_type",
    "too_long",
    "not_integer",
    "out_of_range",
    "not_in_options",
    "unknown_parameter",
    "missing_required",
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def parameter_defs(draw: st.DrawFn) -> ParameterDef | None:
    kind = draw(st.sampled_from(["string", "number", "boolean", "select", "file"]))
    raw: dict[str, Any] = {"key": draw(keys), "type": kind, "required": draw(st.booleans())}
    if kind == "string":
        raw["max_length"] = draw(st.one_of(st.none(), st.integers(1, 50)))
    elif kind == "number":
        raw["min"] = draw(st.one_of(st.none(), st.floats(-1e6, 1e6)))
        raw["max"] = draw(st.one_of(st.none(), st.floats(-1e6, 1e6)))
        raw["integer"] = draw(st.one_of(st.none(), st.booleans()))
    elif kind == "select":
        raw["options"] = draw(st.lists(st.text(max_size=5), min_size=1, max_size=4))
    elif kind == "file":
        raw["accept"] = ["image/*"]
    if kind != "file":
        raw["default"] = draw(st.one_of(st.none(), json_values))
    try:
        return ParameterDef.model_validate(raw)
    except ValidationError:
        return None


@FUZZ
@given(
    defs=st.lists(parameter_defs(), max_size=5).map(lambda ds: [d for d in ds if d]),
    given_values=st.dictionaries(st.one_of(keys, st.text(max_size=8)), json_values, max_size=6),
)
def test_resolve_never_raises_and_resolved_values_are_valid(
    defs: list[ParameterDef], given_values: dict[str, Any]
) -> None:
    unique = list({d.key: d for d in defs}.values())
    check_defaults(unique)
    resolved, errors = resolve_parameters(unique, given_values)
    assert {e.error_code for e in errors} <= CODES
    by_key = {d.key: d for d in unique}
    for key, value in resolved.items():
        if given_values.get(key) is not None:  # a default is checked at import, not here
            assert check_value(by_key[key], value) is None
    json.dumps(resolved, allow_nan=True)  # what is stored must serialise
    for key in given_values:
        assert key in by_key or any(e.parameter == key for e in errors)


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


@FUZZ
@given(value=json_values, limit=st.integers(1, 8))
def test_depth_bound_matches_a_recursive_reference(value: Any, limit: int) -> None:
    assert json_depth_exceeds(value, limit) == (reference_depth(value) > limit)


@FUZZ
@given(graph=st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_graph_shape_check_never_raises(graph: dict[str, Any]) -> None:
    problem = comfyui_graph_problem(graph)
    assert problem is None or isinstance(problem, str)
