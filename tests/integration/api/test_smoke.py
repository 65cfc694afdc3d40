from __future__ import annotations

from tests.support.app import Harness, Team


async def test_seed_steps_against_in_process_app(harness: Harness, team_a: Team) -> None:
    key = await harness.upload(team_a, b"\x89PNG fake", "photo.png")
    assert key.startswith(f"inputs/{team_a.id}/") and key.endswith("/photo.png")
    r = await harness.client.post(
        "/api/v1/r/workflows/slug/echo/run",
        headers=team_a.auth("integration"),
        json={"parameters": {"input_file": key}},
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    r = await harness.client.get(f"/api/v1/r/tasks/{task_id}", headers=team_a.auth("integration"))
    assert r.status_code == 200 and r.json()["task_status"] == "pending"
