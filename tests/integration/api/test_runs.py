"""Runs: by id, slug and slug@version; one 422 entry per bad parameter; idempotency."""

from __future__ import annotations

import asyncio

from tests.support.app import Harness, Team

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


async def run(
    h: Harness,
    team: Team,
    ref: str,
    params: dict[str, object],
    kind: str = "integration",
    **headers: str,
) -> tuple[int, dict[str, object], dict[str, str]]:
    path = (
        f"/api/v1/r/workflows/slug/{ref}/run"
        if ref.count("-") != 4
        else f"/api/v1/r/workflows/{ref}/run"
    )
    r = await h.client.post(
        path, headers={**team.auth(kind), **headers}, json={"parameters": params}
    )
    return r.status_code, r.json(), dict(r.headers)


async def test_run_by_slug_id_and_version_stores_resolved_parameters(
    harness: Harness, team_a: Team
) -> None:
    key = await harness.upload(team_a, PNG)
    status, body, _ = await run(harness, team_a, "img2img", {"input_image": key})
    assert status == 202
    task = (
        await harness.client.get(f"/api/v1/r/tasks/{body['task_id']}", headers=team_a.auth())
    ).json()
    assert task["parameters"] == {"input_image": key, "prompt": "enhance", "strength": 0.5}
    assert task["task_status"] == "pending" and task["workflow_version"] == 1
    wf = (
        await harness.client.get("/api/v1/r/workflows/slug/img2img", headers=team_a.auth())
    ).json()
    status, _, _ = await run(harness, team_a, wf["id"], {"input_image": key, "prompt": "blur"})
    assert status == 202
    await harness.client.put(
        f"/api/v1/workflows/{wf['id']}", headers=team_a.auth(), json={"description": "v2"}
    )
    status, body, _ = await run(harness, team_a, "img2img@1", {"input_image": key})
    assert status == 202
    old = (
        await harness.client.get(f"/api/v1/r/tasks/{body['task_id']}", headers=team_a.auth())
    ).json()
    assert old["workflow_version"] == 1


async def test_every_bad_parameter_is_named(harness: Harness, team_a: Team, team_b: Team) -> None:
    foreign = await harness.upload(team_b, PNG)
    text = await harness.upload(team_a, b"hello", "notes.txt", "text/plain")
    status, body, _ = await run(
        harness,
        team_a,
        "img2img",
        {"input_image": foreign, "prompt": "paint", "strength": 2, "colour": "red"},
    )
    assert status == 422 and body["error_code"] == "invalid_parameters"
    errors = {e["parameter"]: e["error_code"] for e in body["errors"]}  # type: ignore[union-attr]
    assert errors == {
        "input_image": "file_not_found",
        "prompt": "not_in_options",
        "strength": "out_of_range",
        "colour": "unknown_parameter",
    }
    cases = [
        ({}, "input_image", "missing_required"),
        ({"input_image": text}, "input_image", "file_type_not_accepted"),
        ({"input_image": 42}, "input_image", "wrong_type"),
        ({"input_image": "inputs/nope/x.png", "strength": "high"}, "strength", "wrong_type"),
        # More digits than any float holds: a 422 naming it, never a 500 (issue 32, item 6).
        ({"input_image": "inputs/nope/x.png", "strength": 10**400}, "strength", "out_of_range"),
    ]
    for params, param, code in cases:
        status, body, _ = await run(harness, team_a, "img2img", params)
        assert status == 422, body
        found = {e["parameter"]: e["error_code"] for e in body["errors"]}  # type: ignore[union-attr]
        assert found[param] == code, found


async def test_not_uploaded_and_expired_files(harness: Harness, team_a: Team) -> None:
    presign = (
        await harness.client.post(
            "/api/v1/r/files/presign",
            headers=team_a.auth("integration"),
            json={"file_name": "photo.png", "file_size": 10, "content_type": "image/png"},
        )
    ).json()
    status, body, _ = await run(harness, team_a, "img2img", {"input_image": presign["file_key"]})
    assert status == 422 and body["errors"][0]["error_code"] == "file_not_uploaded"  # type: ignore[index]
    key = await harness.upload(team_a, PNG)
    harness.clock.advance(days=1, seconds=1)
    status, body, _ = await run(harness, team_a, "img2img", {"input_image": key})
    assert status == 422 and body["errors"][0]["error_code"] == "file_expired"  # type: ignore[index]


async def test_idempotency(harness: Harness, team_a: Team) -> None:
    key = await harness.upload(team_a, PNG)
    params = {"input_image": key}
    s1, b1, h1 = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-1"})
    s2, b2, h2 = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-1"})
    assert (s1, s2) == (202, 202) and b1 == b2
    assert "idempotent-replayed" not in h1 and h2["idempotent-replayed"] == "true"
    s3, b3, _ = await run(
        harness, team_a, "img2img", {**params, "prompt": "blur"}, **{"Idempotency-Key": "k-1"}
    )
    assert s3 == 409 and b3["error_code"] == "idempotency_key_reused"
    s4, b4, _ = await run(
        harness, team_a, "echo", {"input_file": key}, **{"Idempotency-Key": "k-1"}
    )
    assert s4 == 409  # same key, another workflow
    results = await asyncio.gather(
        *(
            run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-concurrent"})
            for _ in range(5)
        )
    )
    assert {r[0] for r in results} == {202}
    assert len({r[1]["task_id"] for r in results}) == 1
    listed = (
        await harness.client.get("/api/v1/r/tasks?per_page=100", headers=team_a.auth())
    ).json()
    assert listed["page_meta"]["total_count"] == 2


async def test_disabled_workflow_and_queue_cap(harness: Harness, team_a: Team) -> None:
    key = await harness.upload(team_a, PNG)
    wf = (await harness.client.get("/api/v1/r/workflows/slug/echo", headers=team_a.auth())).json()
    await harness.client.put(
        f"/api/v1/workflows/{wf['id']}", headers=team_a.auth(), json={"workflow_status": "disabled"}
    )
    status, body, _ = await run(harness, team_a, "echo", {"input_file": key})
    assert status == 409 and body["error_code"] == "workflow_disabled"
    harness.settings.limits.queued_tasks_per_team = 2
    for _ in range(2):
        assert (await run(harness, team_a, "img2img", {"input_image": key}))[0] == 202
    status, body, _ = await run(harness, team_a, "img2img", {"input_image": key})
    assert status == 409 and body["error_code"] == "queue_full"


async def test_a_stored_key_answers_even_when_the_run_would_now_be_refused(
    harness: Harness, team_a: Team
) -> None:
    """The key is inserted with the task and read back only when a run is refused or the key
    is taken: a retry still gets its task after the input expired or the queue filled, and a
    key past its retention makes a new task."""
    key = await harness.upload(team_a, PNG)
    params = {"input_image": key}
    s1, first, _ = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-e"})
    assert s1 == 202
    harness.settings.limits.queued_tasks_per_team = 1
    s2, again, h2 = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-e"})
    assert (s2, again["task_id"], h2["idempotent-replayed"]) == (202, first["task_id"], "true")
    s3, full, _ = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-f"})
    assert (s3, full["error_code"]) == (409, "queue_full")
    harness.settings.limits.queued_tasks_per_team = 100
    harness.clock.advance(days=1, seconds=1)  # the input expired, and so did the key
    s4, expired, _ = await run(harness, team_a, "img2img", params)
    assert s4 == 422 and expired["error_code"] == "invalid_parameters"
    s5, renewed, h5 = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-e"})
    assert s5 == 422, "an expired key is no answer: the run is validated again"
    fresh = await harness.upload(team_a, PNG)
    s6, new, h6 = await run(
        harness, team_a, "img2img", {"input_image": fresh}, **{"Idempotency-Key": "k-e"}
    )
    assert s6 == 202 and new["task_id"] != first["task_id"]
    assert "idempotent-replayed" not in h6
    s7, same, h7 = await run(
        harness, team_a, "img2img", {"input_image": fresh}, **{"Idempotency-Key": "k-e"}
    )
    assert (s7, same["task_id"], h7["idempotent-replayed"]) == (202, new["task_id"], "true")


async def test_a_replay_is_answered_after_its_input_expired(harness: Harness, team_a: Team) -> None:
    key = await harness.upload(team_a, PNG)
    params = {"input_image": key}
    s1, first, _ = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-x"})
    harness.clock.advance(hours=23)
    harness.settings.retention.idempotency = 100_000
    harness.clock.advance(hours=2)  # the input (kept 1 day) expired; the key (100,000 s) did not
    s2, again, h2 = await run(harness, team_a, "img2img", params, **{"Idempotency-Key": "k-x"})
    assert (s1, s2) == (202, 202) and again["task_id"] == first["task_id"]
    assert h2["idempotent-replayed"] == "true"
