"""How ComfyUI's error bodies read once they become task errors."""

from __future__ import annotations

from typing import Any

import pytest

from runyard_agent.runtimes.comfyui.errors import (
    render_execution_error,
    render_interrupted,
    render_validation_error,
    scrub_paths,
)


def _reason(kind: str, message: str, details: str, input_name: str | None) -> dict[str, Any]:
    extra = {"input_name": input_name} if input_name else {}
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def _body(node_errors: Any, message: str = "Prompt outputs failed validation") -> dict[str, Any]:
    return {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": message,
            "details": "repeated details",
            "extra_info": {},
        },
        "node_errors": node_errors,
    }


def test_value_out_of_range_names_node_class_and_input() -> None:
    body = _body(
        {
            "3": {
                "errors": [
                    _reason(
                        "value_bigger_than_max",
                        "Value 40 bigger than max of 31",
                        "blur_radius",
                        "blur_radius",
                    )
                ],
                "dependent_outputs": ["9"],
                "class_type": "ImageBlur",
            }
        }
    )
    assert render_validation_error(body) == (
        "ComfyUI rejected the workflow: Prompt outputs failed validation; "
        "node 3 (ImageBlur): blur_radius: Value 40 bigger than max of 31"
    )


def test_details_that_repeat_the_input_name_are_trimmed() -> None:
    body = _body(
        {
            "1": {
                "errors": [
                    _reason(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        "image - Invalid image file: ghost.png",
                        "image",
                    ),
                    _reason("required_input_missing", "Required input is missing", "x", "x"),
                ],
                "class_type": "LoadImage",
            },
            "4": {
                "errors": [
                    _reason(
                        "value_not_in_list",
                        "Value not in list",
                        "crop: 'middle' not in ['disabled', 'center']",
                        "crop",
                    )
                ],
                "class_type": "ImageScale",
            },
        }
    )
    assert render_validation_error(body) == (
        "ComfyUI rejected the workflow: Prompt outputs failed validation; "
        "node 1 (LoadImage): image: Custom validation failed for node "
        "(Invalid image file: ghost.png), x: Required input is missing; "
        "node 4 (ImageScale): crop: Value not in list ('middle' not in ['disabled', 'center'])"
    )


def test_top_level_error_without_node_errors_keeps_its_details() -> None:
    body = {
        "error": {
            "type": "invalid_prompt",
            "message": "Cannot execute because node Foo does not exist.",
            "details": "Node ID '#3'",
            "extra_info": {},
        },
        "node_errors": [],  # ComfyUI sends a list here for some errors
    }
    assert render_validation_error(body) == (
        "ComfyUI rejected the workflow: Cannot execute because node Foo does not exist. "
        "(Node ID '#3')"
    )


def test_reason_without_input_name_or_message() -> None:
    body = _body({"7": {"errors": [{"type": "exception_during_validation"}]}})
    assert render_validation_error(body).endswith("node 7 (?): exception_during_validation")


def test_body_that_is_not_an_object() -> None:
    assert render_validation_error(None) == "ComfyUI rejected the workflow (no error details)"
    assert render_validation_error({"error": "bad"}) == "ComfyUI rejected the workflow: bad"


def test_long_messages_are_clipped() -> None:
    many = {
        str(i): {"errors": [_reason("t", "m" * 100, "", None)], "class_type": "X"}
        for i in range(100)
    }
    rendered = render_validation_error(_body(many))
    assert len(rendered) == 4000 and rendered.endswith("…")


def test_execution_error_names_node_class_type_and_message() -> None:
    data = {
        "prompt_id": "p",
        "node_id": "5",
        "node_type": "ImageScale",
        "exception_type": "torch.OutOfMemoryError",
        "exception_message": "CUDA out of memory.\n",
        "traceback": ["..."],
    }
    assert render_execution_error(data) == (
        "ComfyUI failed at node 5 (ImageScale): torch.OutOfMemoryError: CUDA out of memory."
    )


def test_interrupted_message() -> None:
    assert render_interrupted({"node_id": "3", "node_type": "ImageBlur"}) == (
        "ComfyUI interrupted the prompt at node 3 (ImageBlur)"
    )
    assert render_interrupted({}) == "ComfyUI interrupted the prompt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cannot identify image file '/srv/comfy/input/broken.png'",
            "cannot identify image file 'broken.png'",
        ),
        ("C:\\ComfyUI\\input\\x.png failed", "x.png failed"),
        ("at http://127.0.0.1:8188/view", "at http://127.0.0.1:8188/view"),
        ("probe/out and 40/2 stay", "probe/out and 40/2 stay"),
    ],
)
def test_scrub_paths_keeps_only_the_file_name(text: str, expected: str) -> None:
    assert scrub_paths(text) == expected
