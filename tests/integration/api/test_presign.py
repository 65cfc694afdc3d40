"""The seed's step 1 and 2 on the embedded store, and its bad paths."""

from __future__ import annotations

import pytest

from tests.support.app import Harness, Team


async def presign(h: Harness, team: Team, body: dict[str, object], kind: str = "integration"):  # type: ignore[no-untyped-def]
    return await h.client.post("/api/v1/r/files/presign", headers=team.auth(kind), json=body)


async def test_presign_shape_and_upload(harness: Harness, team_a: Team) -> None:
    r = await presign(
        harness, team_a, {"file_name": "photo.png", "file_size": 5, "content_type": "image/png"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["upload_headers"] == {"Content-Length": "5", "If-None-Match": "*"}
    assert body["file_key"].startswith(f"inputs/{team_a.id}/") and body["file_key"].endswith(
        "/photo.png"
    )
    assert body["upload_url"].startswith("http://testserver/storage/inputs/")
    put = await harness.client.put(
        body["upload_url"], content=b"12345", headers=body["upload_headers"]
    )
    assert put.status_code == 200
    again = await harness.client.put(
        body["upload_url"], content=b"12345", headers=body["upload_headers"]
    )
    assert again.status_code == 412
    missing = await harness.client.put(body["upload_url"], content=b"12345")
    assert missing.status_code == 403


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b/c.png", "c.png"),
        ("we\x00ird\x1bname.png", "weirdname.png"),
        ("photo (1).png", "photo (1).png"),
        ("照片.png", "照片.png"),
    ],
)
async def test_names_are_sanitised(
    harness: Harness, team_a: Team, name: str, expected: str
) -> None:
    r = await presign(
        harness, team_a, {"file_name": name, "file_size": 1, "content_type": "image/png"}
    )
    assert r.status_code == 200, r.text
    key = r.json()["file_key"]
    assert key.rsplit("/", 1)[1] == expected
    assert ".." not in key.split("/")


async def test_bad_input(harness: Harness, team_a: Team) -> None:
    over = await presign(
        harness,
        team_a,
        {
            "file_name": "big.bin",
            "file_size": 524_288_001,
            "content_type": "application/octet-stream",
        },
    )
    assert over.status_code == 413 and over.json()["error_code"] == "file_too_large"
    assert "multipart" in over.json()["error_message"]
    edge = await presign(
        harness,
        team_a,
        {
            "file_name": "big.bin",
            "file_size": 524_288_000,
            "content_type": "application/octet-stream",
        },
    )
    assert edge.status_code == 200
    for body in (
        {"file_name": "a", "file_size": 0, "content_type": "text/plain"},
        {"file_name": "a", "file_size": "12", "content_type": "text/plain"},
        {"file_name": "a", "file_size": 1.5, "content_type": "text/plain"},
        {"file_name": "a", "file_size": 1, "content_type": "not a type"},
        {"file_name": "", "file_size": 1, "content_type": "text/plain"},
        {"file_name": "..", "file_size": 1, "content_type": "text/plain"},
        {"file_size": 1},
    ):
        r = await presign(harness, team_a, body)
        assert r.status_code == 422, (body, r.text)
        assert set(r.json()) >= {"error_message", "error_code", "request_id"}
    agent = await presign(
        harness,
        team_a,
        {"file_name": "a", "file_size": 1, "content_type": "text/plain"},
        kind="agent",
    )
    assert agent.status_code == 403
    not_json = await harness.client.post(
        "/api/v1/r/files/presign", headers=team_a.auth("integration"), content=b"{oops"
    )
    assert not_json.status_code == 400 and not_json.json()["error_code"] == "malformed_json"


async def test_errors_carry_request_ids(harness: Harness, team_a: Team) -> None:
    r = await harness.client.get(
        "/api/v1/r/tasks/nope", headers={**team_a.auth(), "X-Request-ID": "trace-123"}
    )
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "trace-123" and r.json()["request_id"] == "trace-123"
    unknown = await harness.client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "not_found"
