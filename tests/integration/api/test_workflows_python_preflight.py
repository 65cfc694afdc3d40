"""Pre-flight of a python workflow's pip requirements (``workflow_json.requirements``): checked
for form at import, and refused at import and at run when every agent with its labels that
reported its Python lacks them and none installs them; unknown agents never cause a refusal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from runyard.models import Agent
from tests.support.app import Harness, Team


def definition(requirements: Any, **over: Any) -> dict[str, Any]:
    body = {
        "workflow_slug": "needs-pillow",
        "tool_type": "python",
        "workflow_json": {"entrypoint": "flows:run", "requirements": requirements},
        "required_labels": ["cpu"],
    }
    body.update(over)
    return body


async def add_agent(
    h: Harness,
    team: Team,
    agent_id: str,
    python: dict[str, Any] | None,
    labels: tuple[str, ...] = ("cpu",),
) -> None:
    info: dict[str, Any] = {"runtimes": {"python": {"healthy": True, **python}}} if python else {}
    async with h.app.state.services.db.unit() as uow:
        uow.session.add(
            Agent(
                team_id=team.id,
                agent_id=agent_id,
                api_key_id="key",
                labels=list(labels),
                runtimes=["python"],
                system_info=info,
            )
        )


async def _import(h: Harness, team: Team, body: dict[str, Any]) -> Any:
    return await h.client.post("/api/v1/workflows/import", headers=team.auth(), json=body)


async def test_malformed_requirements_are_refused_at_import(harness: Harness, team_a: Team) -> None:
    for bad in ("pillow", ["pillow>=", "x"], ["-r other.txt"], [1]):
        r = await _import(harness, team_a, definition(bad))
        assert r.status_code == 422, r.text
        assert r.json()["error_code"] == "invalid_request"
        assert "workflow_json.requirements" in r.json()["error_message"]


async def test_agents_that_did_not_report_refuse_nothing(harness: Harness, team_a: Team) -> None:
    await add_agent(harness, team_a, "old-agent", None)
    await add_agent(harness, team_a, "gpu", {"packages": {}}, labels=("gpu",))  # other labels
    r = await _import(harness, team_a, definition(["pillow>=99"]))
    assert r.status_code == 201, r.text


async def test_import_and_run_name_what_each_agent_lacks(harness: Harness, team_a: Team) -> None:
    await add_agent(harness, team_a, "cpu-1", {"packages": {"pillow": "10.0.0"}})
    await add_agent(harness, team_a, "cpu-2", {"packages": {"numpy": "2.0.0"}})
    r = await _import(harness, team_a, definition(["pillow>=11", "numpy"]))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error_code"] == "python_requirements_missing"
    assert (
        "cpu-1 lacks pillow>=11 (10.0.0 installed), numpy (not installed)" in body["error_message"]
    )
    assert "cpu-2 lacks pillow>=11 (not installed)" in body["error_message"]
    assert "--python-index-url" in body["error_message"]

    # cpu-1 fits (names are compared canonically; a marker is left to the agent)
    fits = await _import(harness, team_a, definition(["Pillow>=10", "numpy; python_version<'3'"]))
    assert fits.status_code == 201, fits.text
    run = "/api/v1/r/workflows/slug/needs-pillow/run"
    accepted = await harness.client.post(run, headers=team_a.auth("integration"), json={})
    assert accepted.status_code == 202, accepted.text
    old = {"runtimes": {"python": {"healthy": True, "packages": {"pillow": "9.5.0"}}}}
    async with harness.app.state.services.db.unit() as uow:  # cpu-1 now reports pillow 9
        await uow.session.execute(
            update(Agent).where(Agent.agent_id == "cpu-1").values(system_info=old)
        )
    refused = await harness.client.post(run, headers=team_a.auth("integration"), json={})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error_code"] == "python_requirements_missing"
    assert "cpu-1 lacks Pillow>=10 (9.5.0 installed)" in refused.json()["error_message"]


async def test_an_agent_that_installs_requirements_takes_anything(
    harness: Harness, team_a: Team
) -> None:
    await add_agent(harness, team_a, "cpu-1", {"packages": {}, "installs_requirements": True})
    r = await _import(harness, team_a, definition(["anything==1.2.3"]))
    assert r.status_code == 201, r.text


async def test_a_task_says_it_waits_for_an_agent_with_the_requirements(
    harness: Harness, team_a: Team
) -> None:
    from tests.integration.api.test_waiting_reason import reason_of

    await add_agent(harness, team_a, "cpu-1", {"packages": {}, "installs_requirements": True})
    assert (await _import(harness, team_a, definition(["pillow>=11"]))).status_code == 201
    run = await harness.client.post(
        "/api/v1/r/workflows/slug/needs-pillow/run", headers=team_a.auth("integration"), json={}
    )
    assert run.status_code == 202, run.text
    lacking = {"runtimes": {"python": {"healthy": True, "packages": {"pillow": "10.0.0"}}}}
    async with harness.app.state.services.db.unit() as uow:  # restarted without the index
        await uow.session.execute(
            update(Agent)
            .where(Agent.agent_id == "cpu-1")
            .values(system_info=lacking, connected=True, healthy=True)
        )
    reason = await reason_of(harness, team_a, run.json()["task_id"])
    assert reason is not None and reason["code"] == "requirements_missing"
    assert "cpu-1 lacks pillow>=11 (10.0.0 installed)" in reason["message"]
