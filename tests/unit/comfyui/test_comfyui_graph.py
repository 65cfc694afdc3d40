"""Loading API-format graphs, binding parameters, and collecting outputs."""

from __future__ import annotations

from typing import Any

import pytest

from runyard_agent.runtimes.base import TaskFailedError
from runyard_agent.runtimes.comfyui.graph import (
    OutputFile,
    apply_parameters,
    collect_outputs,
    content_type_for,
    load_graph,
)

GRAPH: dict[str, Any] = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}},
}


def test_load_graph_copies_and_accepts_a_wrapper() -> None:
    graph = load_graph(GRAPH)
    graph["1"]["inputs"]["image"] = "changed.png"
    assert GRAPH["1"]["inputs"]["image"] == "x.png"
    assert load_graph({"graph": GRAPH}) == GRAPH
    assert list(load_graph({3: {"class_type": "X"}})) == ["3"]  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("workflow_json", "fragment"),
    [
        ({"nodes": [], "links": []}, "UI format"),
        ({}, "no ComfyUI nodes"),
        ({"1": {"inputs": {}}}, "node 1 is not an API-format node"),
        ({"1": {"class_type": "X", "inputs": []}}, "inputs that are not an object"),
    ],
)
def test_load_graph_refuses_what_is_not_an_api_graph(
    workflow_json: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(TaskFailedError) as caught:
        load_graph(workflow_json)
    assert caught.value.code == "comfyui_invalid_workflow"
    assert fragment in str(caught.value)


def test_parameters_are_written_into_their_bindings() -> None:
    graph = load_graph(GRAPH)
    definitions: list[dict[str, Any]] = [
        {"key": "photo", "type": "file", "node_id": "1", "field": "image"},
        {"key": "prefix", "type": "string", "node_id": 9, "field": "filename_prefix"},
        {"key": "unbound", "type": "string"},
        {"key": "nested", "type": "number", "binding": {"node_id": "9", "field": "quality"}},
        {"key": "absent", "type": "string", "node_id": "9", "field": "other"},
    ]
    values = {"photo": "file-key", "prefix": "runs/out", "unbound": "x", "nested": 7}

    apply_parameters(graph, definitions, values, {"photo": "sub/photo (1).png"})

    assert graph["1"]["inputs"]["image"] == "sub/photo (1).png"
    assert graph["9"]["inputs"] == {
        "images": ["1", 0],
        "filename_prefix": "runs/out",
        "quality": 7,
    }


def test_a_file_parameter_without_an_upload_leaves_the_graph_alone() -> None:
    graph = load_graph(GRAPH)
    definitions = [{"key": "photo", "type": "file", "node_id": "1", "field": "image"}]
    apply_parameters(graph, definitions, {"photo": "file-key"}, {})
    assert graph["1"]["inputs"]["image"] == "x.png"


def test_a_binding_to_a_missing_node_fails() -> None:
    graph = load_graph(GRAPH)
    definitions = [{"key": "p", "type": "string", "node_id": "42", "field": "text"}]
    with pytest.raises(TaskFailedError) as caught:
        apply_parameters(graph, definitions, {"p": "x"}, {})
    assert caught.value.code == "comfyui_invalid_binding"
    assert "node 42" in str(caught.value)


def _image(name: str, subfolder: str = "", kind: str = "output") -> dict[str, str]:
    return {"filename": name, "subfolder": subfolder, "type": kind}


def test_outputs_merge_executed_and_history_in_graph_order_without_duplicates() -> None:
    executed = [{"9": {"images": [_image("b.png")]}}, {"5": {"images": [_image("a.png")]}}]
    history = {
        "5": {"images": [_image("a.png"), _image("a2.png")], "text": ["hello"]},
        "9": {"images": [_image("b.png")], "gifs": [_image("v.mp4", "clips")]},
        "77": {"images": [_image("late.png", kind="temp")]},
    }

    files = collect_outputs(["5", "9"], *executed, history)

    assert [(f.output_id, f.filename) for f in files] == [
        ("5.images.0", "a.png"),
        ("5.images.1", "a2.png"),
        ("9.images.0", "b.png"),
        ("9.gifs.0", "v.mp4"),
        ("77.images.0", "late.png"),
    ]
    assert files[3].subfolder == "clips"
    assert files[4].type == "temp"


def test_same_name_in_another_subfolder_is_another_file() -> None:
    executed = {"9": {"images": [_image("a.png"), _image("a.png", "x"), _image("a.png")]}}
    assert [f.output_id for f in collect_outputs(["9"], executed)] == ["9.images.0", "9.images.1"]


def test_local_names_are_safe_and_unique_per_output() -> None:
    ref = OutputFile("12:3", "images", 0, "my out (1).png", "", "output")
    assert ref.local_name == "12_3.images.0-my_out__1_.png"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.png", "image/png"),
        ("a.JPG", "image/jpeg"),
        ("a.webp", "image/webp"),
        ("clip.mp4", "video/mp4"),
        ("sound.flac", "audio/flac"),
        ("noext", "application/octet-stream"),
    ],
)
def test_content_type_from_the_extension(name: str, content_type: str) -> None:
    assert content_type_for(name) == content_type
