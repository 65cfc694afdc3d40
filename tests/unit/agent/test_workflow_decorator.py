"""``@workflow``: a typed signature becomes the definition the server imports, and a task's
values become the function's arguments."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from runyard.workflows.builtins import BUILTINS
from runyard.workflows.schemas import WorkflowDefinition
from runyard_agent import File, Param, TaskContext, WorkflowSignatureError, workflow
from runyard_agent.builtins import echo, img2img
from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.functions import produced, spec_of

EXAMPLE = Path(__file__).parents[3] / "examples" / "python" / "thumbnail.py"


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("thumbnail_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_documented_example_becomes_a_valid_definition():
    module = _load_example()
    spec = spec_of(module.thumbnail)
    assert spec is not None
    definition = spec.definition()
    assert WorkflowDefinition.model_validate(definition)
    assert definition["workflow_slug"] == "thumbnail"
    assert definition["required_labels"] == ["cpu"]
    assert definition["task_timeout"] == 300
    assert definition["description"] == "Makes a PNG thumbnail of an image."
    assert definition["workflow_json"] == {"entrypoint": "thumbnail_example:thumbnail"}
    assert definition["parameters"] == [
        {
            "key": "image",
            "label": "Image",
            "description": "The picture to shrink.",
            "required": True,
            "accept": ["image/*"],
            "type": "file",
        },
        {
            "key": "size",
            "label": "Size",
            "description": "The longest side of the thumbnail, in pixels.",
            "required": False,
            "integer": True,
            "min": 16,
            "max": 4096,
            "default": 256,
            "type": "number",
        },
        {
            "key": "mode",
            "label": "Mode",
            "description": "`fit` keeps the whole picture; `fill` crops it to a square.",
            "required": False,
            "options": ["fit", "fill"],
            "default": "fit",
            "type": "select",
        },
    ]


@pytest.mark.parametrize("module", [img2img, echo], ids=["img2img", "echo"])
def test_the_builtins_signatures_are_the_definitions_the_server_registers(module):
    spec = spec_of(module.run)
    assert spec is not None
    [registered] = [b for b in BUILTINS if b["workflow_slug"] == spec.slug]
    ours = WorkflowDefinition.model_validate(spec.definition())
    assert ours.model_dump(exclude_none=True) == WorkflowDefinition.model_validate(
        registered
    ).model_dump(exclude_none=True)


def test_every_supported_type_maps_to_its_parameter_type():
    @workflow("all-types")
    def everything(
        text: Annotated[str, Param(max_length=40, label="Text", description="Some words")],
        flag: bool = False,
        ratio: float = 0.5,
        count: int | None = None,
        anything: File | None = None,
        photo: Path | None = None,
        kinds: File[Literal["image/png", "image/jpeg"]] | None = None,
    ) -> None:
        return None

    spec = spec_of(everything)
    assert spec is not None and spec.context is None
    params = {p["key"]: p for p in spec.definition()["parameters"]}
    assert params["text"] == {
        "key": "text",
        "label": "Text",
        "description": "Some words",
        "required": True,
        "max_length": 40,
        "type": "string",
    }
    assert params["flag"]["type"] == "boolean" and params["flag"]["default"] is False
    assert params["ratio"] == {
        "key": "ratio",
        "label": "Ratio",
        "required": False,
        "default": 0.5,
        "type": "number",
    }
    assert params["count"]["integer"] is True and "default" not in params["count"]
    assert params["anything"]["type"] == "file" and "accept" not in params["anything"]
    assert params["photo"]["type"] == "file" and params["photo"]["required"] is False
    assert params["kinds"]["accept"] == ["image/png", "image/jpeg"]
    WorkflowDefinition.model_validate(spec.definition())


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        (list[str], "parameter 'value' has type"),
        (dict, "parameter 'value' has type"),
        (Literal[1, 2], "parameter 'value' is"),
        (Annotated[str, Param(ge=1)], "Param(ge=/le=) but is not an int or a float"),
        (Annotated[int, Param(max_length=3)], "Param(max_length=) but is not a str"),
    ],
)
def test_an_unsupported_parameter_type_is_refused_naming_the_parameter(annotation, fragment):
    def function(ctx: TaskContext, value: Any) -> None:
        return None

    function.__annotations__["value"] = annotation
    with pytest.raises(
        WorkflowSignatureError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        workflow("broken")(function)


def test_signatures_that_cannot_be_a_workflow_say_why():
    with pytest.raises(WorkflowSignatureError, match="'value' has no type annotation"):

        @workflow("untyped")
        def untyped(value):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(WorkflowSignatureError, match=r"\*args/\*\*kwargs"):

        @workflow("variadic")
        def variadic(*values: str) -> None:
            return None

    with pytest.raises(WorkflowSignatureError, match="add `= None`"):

        @workflow("optional")
        def optional(value: str | None) -> None:
            return None

    with pytest.raises(WorkflowSignatureError, match="slug"):
        workflow("Not A Slug")

    with pytest.raises(WorkflowSignatureError, match="plain `def`"):

        @workflow("coroutine")
        async def coroutine() -> None:
            return None


def test_a_call_gets_typed_values_and_defaults(make_ctx):
    seen: dict[str, Any] = {}

    @workflow("typed-call")
    def typed(
        ctx: TaskContext,
        image: File,
        count: Annotated[int, Param(ge=1, le=10)] = 3,
        mode: Literal["a", "b"] = "a",
        note: str | None = None,
    ) -> dict[str, object]:
        seen.update(ctx=ctx, image=image, count=count, mode=mode, note=note)
        target = ctx.output_dir / "out.txt"
        target.write_text("x")
        return {"file": target, "count": count}

    spec = spec_of(typed)
    assert spec is not None
    ctx = make_ctx({"count": 4.0, "mode": "b"}, {"image": ("a.bin", "x/y", b"1")})
    outputs = produced(spec.call(ctx), ctx)
    assert seen["ctx"] is ctx and seen["image"] == ctx.input_files["image"]
    assert (seen["count"], type(seen["count"]), seen["mode"], seen["note"]) == (4, int, "b", None)
    assert [(o.output_id, o.file_name, o.content_type) for o in outputs] == [
        ("file", "out.txt", "text/plain")
    ]
    assert ctx.values == {"count": 4}

    for parameters, fragment in [
        ({"count": 11}, "at most 10"),
        ({"count": 2.5}, "whole number"),
        ({"mode": "c"}, "must be one of a, b"),
        ({"note": 3}, "must be a string"),
    ]:
        with pytest.raises(TaskFailedError, match=fragment) as caught:
            spec.call(make_ctx(parameters, {"image": ("a.bin", "x/y", b"1")}))
        assert caught.value.code == "invalid_input"
    with pytest.raises(TaskFailedError, match="'image' needs a file"):
        spec.call(make_ctx({}))


def test_return_values_become_outputs_and_values(make_ctx):
    ctx = make_ctx()
    one = ctx.output_dir / "a.png"
    two = ctx.output_dir / "b.json"
    one.write_bytes(b"x")
    two.write_text("{}")
    assert [(o.output_id, o.content_type) for o in produced(one, ctx)] == [("result", "image/png")]
    assert [o.output_id for o in produced([one, two], ctx)] == ["result_1", "result_2"]
    assert produced("hello", ctx) == [] and ctx.values == {"result": "hello"}
    assert produced(None, ctx) == []
    with pytest.raises(TaskFailedError) as caught:
        produced([one, 3], ctx)
    assert caught.value.code == "invalid_output"
