"""Hostile inputs found by the issue-17 audit: each answers a 4xx in the error shape and stores
nothing half-way (workflow bounds, slug@version, Last-Event-ID, signed-header names)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.api.test_workflows import GRAPH, comfy
from tests.support.app import Harness, Team

IMPORT = "/api/v1/workflows/import"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def assert_error(r: Any, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error_message", "error_code", "request_id"}, body
    if code is not None:
        assert body["error_code"] == code, body


async def assert_nothing_stored(h: Harness, team: Team) -> None:
    listed = await h.client.get("/api/v1/workflows", headers=team.auth())
    assert listed.status_code == 200, listed.text
    slugs = [w["workflow_slug"] for w in listed.json()["workflow_list"]]
    assert slugs == ["echo", "img2img"], slugs


async def test_deep_workflow_json_is_refused_and_reads_keep_working(
    harness: Harness, team_a: Team
) -> None:
    body = {
        "workflow_slug": "deep",
        "tool_type": "python",
        "workflow_json": {"entrypoint": "m:f", "config": nested(260)},
    }
    r = await harness.client.post(IMPORT, headers=team_a.auth(), json=body)
    assert_error(r, 422, "workflow_too_deep")
    await assert_nothing_stored(harness, team_a)
    runtime = await harness.client.get("/api/v1/r/workflows", headers=team_a.auth())
    assert runtime.status_code == 200


@pytest.mark.parametrize(
    ("graph", "params", "status", "code"),
    [
        ({"1": "x"}, 0, 422, "invalid_request"),
        ({"1": {"inputs": {}}}, 0, 422, "invalid_request"),
        ({"1": {"class_type": "A", "inputs": []}}, 0, 422, "invalid_request"),
        ({}, 0, 422, "invalid_request"),
        (
            {str(i): {"class_type": "Note", "inputs": {}} for i in range(100_000)},
            0,
            422,
            "too_many_nodes",
        ),
        (
            {"1": {"class_type": "Note", "inputs": {"text": "x" * (30 * 1024 * 1024)}}},
            0,
            413,
            "workflow_too_large",
        ),
        (GRAPH, 10_000, 422, "too_many_parameters"),
    ],
    ids=["not-a-node", "no-class-type", "inputs-not-object", "empty", "100k-nodes", "30MB", "10k"],
)
async def test_comfyui_graph_shape_and_bounds(
    harness: Harness,
    team_a: Team,
    graph: dict[str, Any],
    params: int,
    status: int,
    code: str,
) -> None:
    parameters = [
        {"key": f"p{i}", "type": "string", "node_id": "1", "field": "image"} for i in range(params)
    ]
    body = comfy(workflow_slug="hostile", workflow_json=graph, parameters=parameters)
    r = await harness.client.post(IMPORT, headers=team_a.auth(), json=body)
    assert_error(r, status, code)
    await assert_nothing_stored(harness, team_a)


async def test_update_is_bounded_too(harness: Harness, team_a: Team) -> None:
    created = await harness.client.post(IMPORT, headers=team_a.auth(), json=comfy())
    assert created.status_code == 201, created.text
    r = await harness.client.put(
        f"/api/v1/workflows/{created.json()['id']}",
        headers=team_a.auth(),
        json={"workflow_json": {**GRAPH, "9": {"class_type": "Note", "inputs": nested(100)}}},
    )
    assert_error(r, 422, "workflow_too_deep")
    url = f"/api/v1/workflows/{created.json()['id']}"
    got = await harness.client.get(url, headers=team_a.auth())
    assert got.json()["version"] == 1


@pytest.mark.parametrize("version", ["99999999999999999999", "²", "0", "-1", "1.0", "٣"])
async def test_hostile_versions_are_not_found(harness: Harness, team_a: Team, version: str) -> None:
    for kind in ("session", "integration"):
        r = await harness.client.get(
            f"/api/v1/r/workflows/slug/img2img@{quote(version)}", headers=team_a.auth(kind)
        )
        assert_error(r, 404, "workflow_not_found")
        run = await harness.client.post(
            f"/api/v1/r/workflows/slug/img2img@{quote(version)}/run",
            headers=team_a.auth(kind),
            json={"parameters": {}},
        )
        assert_error(run, 404, "workflow_not_found")


async def _a_task(h: Harness, team: Team) -> str:
    key = await h.upload(team, b"hello", name="a.txt", content_type="text/plain")
    r = await h.client.post(
        "/api/v1/r/workflows/slug/echo/run",
        headers=team.auth("integration"),
        json={"parameters": {"input_file": key}},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


@pytest.mark.parametrize("last_event_id", [str(10**23), "9" * 5000, "²", "-1", "1e3", str(2**31)])
async def test_hostile_last_event_id_is_a_400(
    harness: Harness, team_a: Team, last_event_id: str
) -> None:
    task = await _a_task(harness, team_a)
    r = await harness.client.get(
        f"/api/v1/r/tasks/{task}/events",
        headers={**team_a.auth("integration"), "Last-Event-ID": last_event_id.encode("utf-8")},  # type: ignore[dict-item]
    )
    assert_error(r, 400, "invalid_event_id")


@pytest.mark.parametrize("after", [str(10**23), "9" * 5000, "²", "-1"])
async def test_hostile_after_is_a_422(harness: Harness, team_a: Team, after: str) -> None:
    task = await _a_task(harness, team_a)
    r = await harness.client.get(
        f"/api/v1/r/tasks/{task}/events",
        params={"after": after},
        headers=team_a.auth("integration"),
    )
    assert_error(r, 422)


async def test_non_latin1_signed_header_name_is_a_403(harness: Harness, team_a: Team) -> None:
    r = await harness.client.post(
        "/api/v1/r/files/presign",
        headers=team_a.auth("integration"),
        json={"file_name": "a.txt", "file_size": 3, "content_type": "text/plain"},
    )
    url = r.json()["upload_url"]
    for hostile in ("ĉontent-length", "content-length;€", "x" * 100, ";".join("a" * 40)):
        tampered = url.replace(
            "X-Runyard-SignedHeaders=content-length%3Bif-none-match",
            f"X-Runyard-SignedHeaders={quote(hostile, safe='')}",
        )
        assert tampered != url
        put = await harness.client.put(
            tampered, content=b"abc", headers={"Content-Length": "3", "If-None-Match": "*"}
        )
        assert_error(put, 403, "signature_mismatch")
        get = await harness.client.get(tampered)
        assert_error(get, 403)


async def test_access_log_paths_cannot_forge_lines(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="runyard.access"):
        await harness.client.get(
            "/api/v1/x%0aINFO%20runyard.access:%20GET%20/admin%20200%0d%1b[2J%E2%80%A8\\x0a"
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "runyard.access"]
    assert len(lines) == 1, lines
    line = lines[0]
    assert not any(c in line for c in "\n\r\x1b\u2028"), line
    assert "/api/v1/x\\x0aINFO" in line and "\\x0d\\x1b[2J\\u2028\\x5cx0a" in line
