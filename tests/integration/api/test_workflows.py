"""Workflows: import, versions, validation at import, management and runtime reads."""

from __future__ import annotations

from typing import Any

from tests.support.app import Harness, Team

GRAPH = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "out"}},
}


def comfy(**over: Any) -> dict[str, Any]:
    body = {
        "workflow_slug": "invert",
        "display_name": "Invert",
        "tool_type": "comfyui",
        "workflow_json": GRAPH,
        "required_labels": ["comfyui"],
        "parameters": [
            {
                "key": "input_image",
                "type": "file",
                "required": True,
                "accept": ["image/*"],
                "node_id": "1",
                "field": "image",
            },
            {
                "key": "prefix",
                "type": "string",
                "default": "out",
                "max_length": 20,
                "node_id": "3",
                "field": "filename_prefix",
            },
        ],
    }
    body.update(over)
    return body


async def test_import_versions_and_reads(harness: Harness, team_a: Team) -> None:
    c = harness.client
    first = await c.post("/api/v1/workflows/import", headers=team_a.auth(), json=comfy())
    assert first.status_code == 201, first.text
    wf = first.json()
    assert wf["version"] == 1 and wf["workflow_json"] == GRAPH
    second = await c.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=comfy(description="v2")
    )
    assert second.json()["id"] == wf["id"] and second.json()["version"] == 2
    updated = await c.put(
        f"/api/v1/workflows/{wf['id']}", headers=team_a.auth(), json={"workflow_status": "disabled"}
    )
    # Disabling changes no definition: no new version.
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert updated.json()["workflow_status"] == "disabled"
    # runtime reads: workflow_json only for session callers
    sk = await c.get("/api/v1/r/workflows/slug/invert", headers=team_a.auth("integration"))
    assert sk.status_code == 200 and "workflow_json" not in sk.json()
    assert sk.json()["workflow_status"] == "disabled"
    sess = await c.get("/api/v1/r/workflows/slug/invert@2", headers=team_a.auth())
    assert sess.json()["version"] == 2 and sess.json()["description"] == "v2"
    assert sess.json()["workflow_json"] == GRAPH
    missing = await c.get("/api/v1/r/workflows/slug/invert@9", headers=team_a.auth())
    assert missing.status_code == 404 and missing.json()["error_code"] == "workflow_not_found"
    listed = await c.get("/api/v1/r/workflows?per_page=2", headers=team_a.auth("integration"))
    body = listed.json()
    assert body["page_meta"] == {"current_page": 1, "per_page": 2, "total_count": 3}
    assert [w["workflow_slug"] for w in body["workflow_list"]] == ["echo", "img2img"]
    deleted = await c.delete(f"/api/v1/workflows/{wf['id']}", headers=team_a.auth())
    assert deleted.status_code == 204
    assert (await c.get(f"/api/v1/workflows/{wf['id']}", headers=team_a.auth())).status_code == 404


async def test_import_validation(harness: Harness, team_a: Team) -> None:
    bad = [
        comfy(workflow_slug="Bad_Slug"),
        comfy(workflow_slug="x"),
        comfy(parameters=[{"key": "p", "type": "string", "node_id": "9", "field": "image"}]),
        comfy(parameters=[{"key": "p", "type": "string", "node_id": "1", "field": "nope"}]),
        comfy(
            parameters=[
                {
                    "key": "p",
                    "type": "number",
                    "min": 0,
                    "max": 1,
                    "default": 2,
                    "node_id": "1",
                    "field": "image",
                }
            ]
        ),
        comfy(
            parameters=[
                {
                    "key": "p",
                    "type": "select",
                    "options": ["a"],
                    "default": "b",
                    "node_id": "1",
                    "field": "image",
                }
            ]
        ),
        comfy(
            parameters=[
                {"key": "p", "type": "string", "options": ["a"], "node_id": "1", "field": "image"}
            ]
        ),
        comfy(parameters=[{"key": "p", "type": "string"}]),
        {"workflow_slug": "py", "tool_type": "python", "workflow_json": {"nope": 1}},
        {"workflow_slug": "py", "tool_type": "shell", "workflow_json": {}},
    ]
    for body in bad:
        r = await harness.client.post("/api/v1/workflows/import", headers=team_a.auth(), json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error_code"] in ("invalid_request", "invalid_workflow")


async def test_other_teams_workflows_are_invisible(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    wf = (
        await harness.client.post("/api/v1/workflows/import", headers=team_a.auth(), json=comfy())
    ).json()
    for path in (
        f"/api/v1/workflows/{wf['id']}",
        f"/api/v1/r/workflows/{wf['id']}",
        "/api/v1/r/workflows/slug/invert",
    ):
        r = await harness.client.get(path, headers=team_b.auth())
        assert r.status_code == 404 and r.json()["error_code"] == "workflow_not_found"
    r = await harness.client.post(
        f"/api/v1/r/workflows/{wf['id']}/run",
        headers=team_b.auth("integration"),
        json={"parameters": {}},
    )
    assert r.status_code == 404
    r = await harness.client.put(
        f"/api/v1/workflows/{wf['id']}", headers=team_b.auth(), json={"description": "mine now"}
    )
    assert r.status_code == 404


UI_EXPORT = {
    "last_node_id": 3,
    "last_link_id": 2,
    "nodes": [{"id": 1, "type": "LoadImage", "widgets_values": ["x.png", "image"]}],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
    "version": 0.4,
}


async def test_ui_format_export_is_refused_at_import_with_the_way_out(
    harness: Harness, team_a: Team
) -> None:
    # With or without a binding (the binding is what the user notices first), and wrapped.
    for body in (
        comfy(workflow_json=UI_EXPORT, parameters=[]),
        comfy(workflow_json=UI_EXPORT),
        comfy(workflow_json={"graph": UI_EXPORT}, parameters=[]),
    ):
        r = await harness.client.post("/api/v1/workflows/import", headers=team_a.auth(), json=body)
        assert r.status_code == 422, r.text
        message = r.json()["error_message"]
        assert "UI-format" in message and "Export (API)" in message, message


async def test_binding_error_says_why(harness: Harness, team_a: Team) -> None:
    body = comfy(parameters=[{"key": "p", "type": "string", "node_id": "9", "field": "image"}])
    r = await harness.client.post("/api/v1/workflows/import", headers=team_a.auth(), json=body)
    assert r.status_code == 422
    message = r.json()["error_message"]
    assert "parameter 'p' is bound to node '9', which is not in the graph" in message
    assert "1, 2, 3" in message


async def test_wrapped_graph_with_options_is_accepted_and_bindings_checked_inside(
    harness: Harness, team_a: Team
) -> None:
    wrapped = {"graph": GRAPH, "allow_partial_outputs": True}
    r = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=comfy(workflow_json=wrapped)
    )
    assert r.status_code == 201, r.text
    bad = {"graph": GRAPH, "allow_partial_outputs": "yes"}
    r = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=comfy(workflow_json=bad)
    )
    assert r.status_code == 422 and "allow_partial_outputs" in r.json()["error_message"]


async def test_disable_and_enable_make_no_version(harness: Harness, team_a: Team) -> None:
    c = harness.client
    wf = (await c.post("/api/v1/workflows/import", headers=team_a.auth(), json=comfy())).json()
    path = f"/api/v1/workflows/{wf['id']}"
    for status in ("disabled", "active", "active"):
        r = await c.put(path, headers=team_a.auth(), json={"workflow_status": status})
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
        assert r.json()["workflow_status"] == status
    run = await c.post(
        "/api/v1/r/workflows/slug/invert/validate", headers=team_a.auth("integration"), json={}
    )
    assert run.status_code != 409  # enabled again
    changed = await c.put(path, headers=team_a.auth(), json={"description": "new words"})
    assert changed.json()["version"] == 2
    both = await c.put(
        path, headers=team_a.auth(), json={"workflow_status": "disabled", "description": "x"}
    )
    assert both.json()["version"] == 3 and both.json()["workflow_status"] == "disabled"
