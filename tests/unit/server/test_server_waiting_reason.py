"""`waiting_reason` from plain rows: the first thing a newcomer must fix comes first (no agent
with the labels, not connected, unhealthy with the agent's own words, draining, missing graph
requirements, busy with the queue position)."""

from __future__ import annotations

from typing import Any

from runyard.models import Agent, Task
from runyard.tasks.waiting import explain


def task(labels: list[str]) -> Task:
    return Task(id="t1", team_id="team", required_labels=labels)


def agent(agent_id: str, **overrides: Any) -> Agent:
    values: dict[str, Any] = {
        "agent_id": agent_id,
        "labels": ["comfyui"],
        "connected": True,
        "healthy": True,
        "draining": False,
        "capacity": 1,
        "runtimes": ["python", "comfyui"],
        "system_info": {},
    }
    values.update(overrides)
    return Agent(**values)


def test_no_agent_with_the_labels_says_how_to_start_one() -> None:
    reason = explain(task(["comfyui"]), [], {}, "comfyui", None, 0)
    assert reason.code == "no_agent_with_labels"
    assert "comfyui" in reason.message and "runyard agent --labels comfyui" in reason.message
    assert "runyard dev --comfyui-url" in reason.message


def test_agents_that_left_are_named() -> None:
    reason = explain(task(["comfyui"]), [agent("gpu-1", connected=False)], {}, "comfyui", None, 0)
    assert reason.code == "agents_not_connected" and reason.agent_ids == ["gpu-1"]


def test_an_unhealthy_agent_gives_its_own_reason() -> None:
    down = "ComfyUI at http://127.0.0.1:8188 is unreachable: refused"
    info = {
        "runtimes": {"python": {"healthy": True}, "comfyui": {"healthy": False, "detail": down}}
    }
    sick = agent("local-agent", healthy=False, system_info=info)
    reason = explain(task(["comfyui"]), [sick], {}, "comfyui", None, 0)
    assert reason.code == "agents_unhealthy"
    assert f"local-agent: {down}" in reason.message


def test_a_healthy_agent_without_the_runtime_is_unhealthy_for_this_task() -> None:
    info = {"runtimes": {"python": {"healthy": True}, "comfyui": {"healthy": False}}}
    reason = explain(task([]), [agent("a", system_info=info)], {}, "comfyui", None, 0)
    assert reason.code == "agents_unhealthy" and "a: reports itself unhealthy" in reason.message


def test_draining_then_missing_requirements_then_busy_then_free() -> None:
    t = task(["comfyui"])
    assert explain(t, [agent("a", draining=True)], {}, "comfyui", None, 0).code == "agents_draining"
    tunnel = explain(t, [agent("a", tunnel_exclusive=True)], {}, "comfyui", None, 0)
    assert tunnel.code == "agents_in_tunnel" and "exclusive tunnel" in tunnel.message
    missing = explain(t, [agent("a")], {}, "comfyui", "a lacks node class Foo", 0)
    assert missing.code == "requirements_missing" and "node class Foo" in missing.message
    busy = explain(t, [agent("a"), agent("b", capacity=2)], {"a": 1, "b": 2}, "comfyui", None, 4)
    assert busy.code == "agents_busy" and busy.queue_position == 5
    assert "3 of 3 slots" in busy.message and "number 5" in busy.message
    free = explain(t, [agent("a")], {}, "comfyui", None, 0)
    assert free.code == "about_to_be_assigned"
