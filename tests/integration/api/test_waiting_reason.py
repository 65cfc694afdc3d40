"""`GET /r/tasks/{id}` tells why a task waits: the ComfyUI example imported with no agent of
its labels, then with that agent connected but its ComfyUI down (the agent's own words), then
healthy but lacking a node class. Lists and other statuses carry none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runyard.models import Agent
from tests.support.app import Harness, Team

EXAMPLE = Path(__file__).parents[3] / "examples" / "comfyui-invert.yaml"


async def reason_of(h: Harness, team: Team, task_id: str) -> dict[str, Any] | None:
    r = await h.client.get(f"/api/v1/r/tasks/{task_id}", headers=team.auth("integration"))
    assert r.status_code == 200, r.text
    value: dict[str, Any] | None = r.json()["waiting_reason"]
    return value


async def set_agent(h: Harness, team: Team, **fields: Any) -> None:
    async with h.app.state.services.db.unit() as uow:
        from sqlalchemy import select

        row = await uow.session.scalar(select(Agent).where(Agent.agent_id == "local-agent"))
        if row is None:
            row = Agent(team_id=team.id, agent_id="local-agent", api_key_id="k", capacity=2)
            uow.session.add(row)
        for name, value in fields.items():
            setattr(row, name, value)


async def test_the_comfyui_example_says_why_it_waits(harness: Harness, team_a: Team) -> None:
    definition = yaml.safe_load(EXAMPLE.read_text())
    r = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition
    )
    assert r.status_code == 201, r.text
    key = await harness.upload(team_a, b"\x89PNG" + b"2" * 64)
    run = await harness.client.post(
        "/api/v1/r/workflows/slug/comfyui-invert/run",
        headers=team_a.auth("integration"),
        json={"parameters": {"input_image": key}},
    )
    assert run.status_code == 202, run.text
    task_id = run.json()["task_id"]

    reason = await reason_of(harness, team_a, task_id)
    assert reason is not None and reason["code"] == "no_agent_with_labels"
    assert "comfyui" in reason["message"] and "--comfyui-url" in reason["message"]

    down = "ComfyUI at http://127.0.0.1:8188 is unreachable: connection refused"
    await set_agent(
        harness,
        team_a,
        labels=["comfyui", "cpu"],
        runtimes=["python", "comfyui"],
        connected=True,
        healthy=False,
        system_info={"runtimes": {"comfyui": {"healthy": False, "detail": down}}},
    )
    reason = await reason_of(harness, team_a, task_id)
    assert reason is not None and reason["code"] == "agents_unhealthy"
    assert down in reason["message"] and reason["agent_ids"] == ["local-agent"]

    await set_agent(
        harness,
        team_a,
        healthy=True,
        system_info={
            "runtimes": {"comfyui": {"healthy": True, "node_classes": ["LoadImage"], "models": {}}}
        },
    )
    reason = await reason_of(harness, team_a, task_id)
    assert reason is not None and reason["code"] == "requirements_missing"
    assert "ImageInvert" in reason["message"]

    listed = await harness.client.get("/api/v1/r/tasks", headers=team_a.auth("integration"))
    assert all(t["waiting_reason"] is None for t in listed.json()["task_list"])
    other = await harness.client.get(
        f"/api/v1/r/tasks/{task_id}", headers=await _other_team_auth(harness)
    )
    assert other.status_code == 404


async def _other_team_auth(h: Harness) -> dict[str, str]:
    team = await h.team("gamma", "carol@example.com")
    return team.auth("integration")


async def test_busy_agents_give_the_place_in_the_queue(harness: Harness, team_a: Team) -> None:
    from runyard.models import Task
    from runyard.states import TaskStatus

    await set_agent(
        harness,
        team_a,
        labels=["cpu"],
        runtimes=["python"],
        connected=True,
        healthy=True,
        capacity=1,
        system_info={},
    )
    ids = []
    for _ in range(3):
        ids.append(await _echo_task(harness, team_a))
    async with harness.app.state.services.db.unit() as uow:
        held = await uow.session.get(Task, ids[0])
        assert held is not None
        held.task_status, held.agent_id = TaskStatus.RUNNING, "local-agent"
    second = await reason_of(harness, team_a, ids[1])
    third = await reason_of(harness, team_a, ids[2])
    assert second is not None and second["code"] == "agents_busy"
    assert second["queue_position"] == 1 and "1 of 1 slots" in second["message"]
    assert third is not None and third["queue_position"] == 2
    assert await reason_of(harness, team_a, ids[0]) is None  # running: no reason


async def _echo_task(h: Harness, team: Team) -> str:
    key = await h.upload(team, b"hello")
    r = await h.client.post(
        "/api/v1/r/workflows/slug/echo/run",
        headers=team.auth("integration"),
        json={"parameters": {"input_file": key}},
    )
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


def _sse(body: str) -> list[dict[str, str]]:
    """The events of a whole SSE body, each as its fields."""
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and ": " in line)
        if "event" in fields:
            events.append(fields)
    return events


async def test_the_event_stream_says_why_and_says_it_again_when_it_changes(
    harness: Harness, team_a: Team
) -> None:
    import asyncio
    import json

    harness.settings.events.waiting_recheck = 0.05
    task_id = await _echo_task(harness, team_a)
    url = f"/api/v1/r/tasks/{task_id}/events"
    stream = asyncio.create_task(harness.client.get(url, headers=team_a.auth("integration")))
    feed = harness.app.state.services.feed
    for _ in range(500):  # the stream subscribed and read the reason (bounded wait)
        if feed.cursors(task_id) and min(feed.cursors(task_id)) > 0:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    down = "the python runtime cannot start: disk full"
    await set_agent(
        harness,
        team_a,
        labels=["cpu"],
        runtimes=["python"],
        connected=True,
        healthy=False,
        system_info={"runtimes": {"python": {"healthy": False, "detail": down}}},
    )
    assert (await reason_of(harness, team_a, task_id) or {})["code"] == "agents_unhealthy"
    await asyncio.sleep(0.3)  # six rechecks
    r = await harness.client.post(f"/api/v1/r/tasks/{task_id}/cancel", headers=team_a.auth())
    assert r.status_code == 200, r.text
    events = _sse((await asyncio.wait_for(stream, 20)).text)

    reasons = [e for e in events if e["event"] == "waiting_reason"]
    codes = [json.loads(e["data"])["code"] for e in reasons]
    assert codes == ["no_agent_with_labels", "agents_unhealthy"]  # sent when it changed, once
    assert all("id" not in e for e in reasons)  # computed, not stored
    assert down in json.loads(reasons[-1]["data"])["message"]
    assert json.loads(reasons[0]["data"])["task_id"] == task_id
    assert events[-1]["event"] == "cancelled"
    stored = [e for e in events if "id" in e]
    assert [int(e["id"]) for e in stored] == list(range(1, len(stored) + 1))
    # A replay of the finished task is its stored log only.
    replay = _sse((await harness.client.get(url, headers=team_a.auth("integration"))).text)
    assert replay == stored
