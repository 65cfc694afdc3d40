"""The MCP tools' input schemas generated from parameter definitions are valid JSON Schema and
accept exactly what the run service accepts for the built-in workflows."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runyard.mcp.schemas import parameter_schema, parameters_schema, run_tool, static_tools
from runyard.workflows.builtins import BUILTINS
from runyard.workflows.schemas import ParameterDef


def run_schema() -> dict[str, Any]:
    workflows = [
        (str(w["workflow_slug"]), str(w.get("description", "")), list(w["parameters"]))  # type: ignore[call-overload]
        for w in BUILTINS
    ]
    return dict(run_tool(workflows).input_schema)


def test_every_schema_is_valid_json_schema() -> None:
    for tool in [*static_tools(), run_tool([])]:
        Draft202012Validator.check_schema(tool.input_schema)
    Draft202012Validator.check_schema(run_schema())


@pytest.mark.parametrize(
    ("parameters", "valid"),
    [
        ({"input_image": "inputs/t/u/a.png"}, True),
        ({"input_image": "inputs/t/u/a.png", "prompt": "blur", "strength": 1}, True),
        ({"input_image": "inputs/t/u/a.png", "strength": 2}, False),
        ({"input_image": "inputs/t/u/a.png", "prompt": "paint"}, False),
        ({"input_image": "inputs/t/u/a.png", "extra": 1}, False),
        ({"prompt": "blur"}, False),
    ],
)
def test_img2img_parameters(parameters: dict[str, Any], valid: bool) -> None:
    validator = Draft202012Validator(run_schema())
    ok = validator.is_valid({"workflow_slug": "img2img", "parameters": parameters})
    assert ok is valid
    # another workflow's branch does not apply to img2img's parameters
    assert validator.is_valid({"workflow_slug": "echo", "parameters": {"input_file": "k"}})


def test_each_type_maps_to_json_schema() -> None:
    def schema(**definition: Any) -> dict[str, Any]:
        return parameter_schema(ParameterDef.model_validate({"key": "p", **definition}))

    assert schema(type="string", max_length=5) == {"type": "string", "maxLength": 5}
    assert schema(type="number", integer=True, min=1, max=9, default=3) == {
        "type": "integer",
        "minimum": 1,
        "maximum": 9,
        "default": 3,
    }
    assert schema(type="boolean", label="Flag") == {"type": "boolean", "title": "Flag"}
    assert schema(type="select", options=["a", "b"]) == {"type": "string", "enum": ["a", "b"]}
    assert "image/*" in schema(type="file", accept=["image/*"])["description"]
    required = parameters_schema(
        [{"key": "a", "type": "string", "required": True}, {"key": "b", "type": "boolean"}]
    )["required"]
    assert required == ["a"]


def test_the_run_tool_describes_every_workflow_in_prose() -> None:
    tool = run_tool([(str(w["workflow_slug"]), "", list(w["parameters"])) for w in BUILTINS])  # type: ignore[call-overload]
    text = tool.description or ""
    assert "- img2img:" in text and "input_image (file, required)" in text
    assert "one of enhance/" in text and "range 0..1" in text
