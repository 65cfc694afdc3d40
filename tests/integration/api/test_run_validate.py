"""`POST /r/workflows/…/validate`: a run checked before anything is uploaded. Declared files
(name, size, type) stand for uploads; the answer is 200 or exactly the run's refusal; nothing is
created; another team's workflow answers 404; an integration key may call it, a viewer not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from runyard.models import StoredFile, Task
from tests.support.app import Harness, Team

PHOTO = {"file_name": "photo.png", "file_size": 1024, "content_type": "image/png"}


async def validate(h: Harness, team: Team, body: dict[str, Any], ref: str = "slug/img2img") -> Any:
    return await h.client.post(
        f"/api/v1/r/workflows/{ref}/validate", headers=team.auth("integration"), json=body
    )


async def counts(h: Harness) -> tuple[int, int]:
    async with h.app.state.services.db.unit() as uow:
        tasks = await uow.session.scalar(select(func.count()).select_from(Task))
        files = await uow.session.scalar(select(func.count()).select_from(StoredFile))
    return int(tasks or 0), int(files or 0)


async def test_a_good_run_with_a_declared_file_answers_200(harness: Harness, team_a: Team) -> None:
    before = await counts(harness)
    r = await validate(harness, team_a, {"parameters": {"input_image": PHOTO, "strength": 0.5}})
    assert r.status_code == 200, r.text
    params = r.json()["parameters"]
    assert params["input_image"] == PHOTO and params["strength"] == 0.5
    assert "prompt" in params  # the default is filled in, as the run would
    assert await counts(harness) == before


async def test_a_bad_value_gets_the_runs_own_422(harness: Harness, team_a: Team) -> None:
    bad = {"input_image": PHOTO, "strength": 7}
    checked = await validate(harness, team_a, {"parameters": bad})
    key = await harness.upload(team_a, b"\x89PNG" + b"0" * 64)
    run = await harness.client.post(
        "/api/v1/r/workflows/slug/img2img/run",
        headers=team_a.auth("integration"),
        json={"parameters": {**bad, "input_image": key}},
    )
    assert checked.status_code == run.status_code == 422
    assert checked.json()["error_code"] == run.json()["error_code"] == "invalid_parameters"
    assert checked.json()["errors"] == run.json()["errors"]
    assert checked.json()["errors"][0]["parameter"] == "strength"


async def test_declared_files_are_checked_like_uploads(harness: Harness, team_a: Team) -> None:
    cases = {
        "file_type_not_accepted": {**PHOTO, "content_type": "text/plain"},
        "invalid_file_size": {**PHOTO, "file_size": 0},
        "file_too_large": {**PHOTO, "file_size": 10**15},
        "invalid_content_type": {**PHOTO, "content_type": "png"},
        "wrong_type": {"file_name": "photo.png"},
    }
    for code, declared in cases.items():
        r = await validate(harness, team_a, {"parameters": {"input_image": declared}})
        assert r.status_code == 422, (code, r.text)
        (error,) = r.json()["errors"]
        assert (error["parameter"], error["error_code"]) == ("input_image", code), r.text
    r = await validate(harness, team_a, {"parameters": {"input_image": "inputs/nope/x/a.png"}})
    assert r.json()["errors"][0]["error_code"] == "file_not_found"
    r = await validate(harness, team_a, {"parameters": {"input_image": PHOTO, "nope": 1}})
    assert [e["error_code"] for e in r.json()["errors"]] == ["unknown_parameter"]


async def test_by_id_other_teams_and_roles(harness: Harness, team_a: Team, team_b: Team) -> None:
    wf = await harness.client.get(
        "/api/v1/r/workflows/slug/img2img", headers=team_a.auth("integration")
    )
    wf_id = wf.json()["id"]
    r = await validate(harness, team_a, {"parameters": {"input_image": PHOTO}}, wf_id)
    assert r.status_code == 200, r.text
    other = await validate(harness, team_b, {"parameters": {"input_image": PHOTO}}, wf_id)
    assert other.status_code == 404 and other.json()["error_code"] == "workflow_not_found"
    agent = await harness.client.post(
        f"/api/v1/r/workflows/{wf_id}/validate", headers=team_a.auth("agent"), json={}
    )
    assert agent.status_code == 403
    spec = (await harness.client.get("/openapi.json")).json()
    assert "post" in spec["paths"]["/api/v1/r/workflows/slug/{workflow_slug}/validate"]
    assert "post" in spec["paths"]["/api/v1/r/workflows/{workflow_id}/validate"]
