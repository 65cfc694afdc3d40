"""Pre-flight at import and at run: a ComfyUI graph's node classes and models are checked
against what the agents with its labels reported; unknown agents never cause a refusal."""

from __future__ import annotations

from typing import Any

from runyard.models import Agent
from tests.support.app import Harness, Team

GRAPH = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}
MODEL_PARAMETER = {
    "key": "checkpoint",
    "type": "select",
    "options": ["sd15.safetensors", "sdxl.safetensors"],
    "default": "sd15.safetensors",
    "node_id": "1",
    "field": "ckpt_name",
}


def definition(graph: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "workflow_slug": "preview-model",
        "tool_type": "comfyui",
        "workflow_json": graph,
        "required_labels": ["comfyui"],
        "parameters": [MODEL_PARAMETER],
    }
    body.update(over)
    return body


async def add_agent(
    h: Harness, team: Team, agent_id: str, labels: list[str], comfyui: dict[str, Any] | None
) -> None:
    info: dict[str, Any] = (
        {"runtimes": {"comfyui": {"healthy": True, **comfyui}}} if comfyui else {}
    )
    async with h.app.state.services.db.unit() as uow:
        uow.session.add(
            Agent(
                team_id=team.id,
                agent_id=agent_id,
                api_key_id="key",
                labels=labels,
                runtimes=["python", "comfyui"],
                system_info=info,
            )
        )


def caps(nodes: list[str], checkpoints: list[str]) -> dict[str, Any]:
    return {"node_classes": nodes, "models": {"checkpoints": checkpoints}}


async def test_nothing_is_refused_while_no_agent_for_the_labels_reported(
    harness: Harness, team_a: Team
) -> None:
    await add_agent(harness, team_a, "old-agent", ["comfyui"], None)
    await add_agent(harness, team_a, "other-labels", ["cpu"], caps([], []))
    r = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition(GRAPH)
    )
    assert r.status_code == 201, r.text


async def test_import_names_missing_node_classes_and_models_per_agent(
    harness: Harness, team_a: Team
) -> None:
    await add_agent(
        harness,
        team_a,
        "gpu-1",
        ["comfyui"],
        caps(["CheckpointLoaderSimple"], ["sdxl.safetensors"]),
    )
    await add_agent(harness, team_a, "gpu-2", ["comfyui", "big"], caps(["PreviewAny"], []))
    r = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition(GRAPH)
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error_code"] == "comfyui_requirements_missing"
    message = body["error_message"]
    assert "model checkpoints/sd15.safetensors is on none of them" in message
    assert "gpu-1 lacks node class PreviewAny" in message
    assert "gpu-2 lacks node class CheckpointLoaderSimple" in message


async def test_run_checks_the_model_a_parameter_picks(harness: Harness, team_a: Team) -> None:
    everything = ["CheckpointLoaderSimple", "PreviewAny"]
    await add_agent(harness, team_a, "gpu-1", ["comfyui"], caps(everything, ["sd15.safetensors"]))
    imported = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition(GRAPH)
    )
    assert imported.status_code == 201, imported.text
    run = "/api/v1/r/workflows/slug/preview-model/run"
    ok = await harness.client.post(run, headers=team_a.auth("integration"), json={})
    assert ok.status_code == 202, ok.text
    refused = await harness.client.post(
        run,
        headers=team_a.auth("integration"),
        json={"parameters": {"checkpoint": "sdxl.safetensors"}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error_code"] == "comfyui_requirements_missing"
    message = refused.json()["error_message"]
    assert "(agents that reported: gpu-1)" in message
    assert "model checkpoints/sdxl.safetensors is on none of them" in message


async def test_declared_models_are_checked_at_import_and_not_required_on_agents(
    harness: Harness, team_a: Team
) -> None:
    await add_agent(
        harness,
        team_a,
        "gpu-1",
        ["comfyui"],
        caps(["CheckpointLoaderSimple", "PreviewAny"], []),  # has no checkpoint: will fetch it
    )
    model = {
        "folder": "checkpoints",
        "file_name": "sd15.safetensors",
        "sha256": "ab" * 32,
        "url": "https://models.example.com/sd15.safetensors",
    }
    wrapped = {"graph": GRAPH, "models": [model]}
    ok = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition(wrapped, parameters=[])
    )
    assert ok.status_code == 201, ok.text
    for bad, fragment in (
        ({**model, "url": "http://models.example.com/x"}, "must be an https URL"),
        ({**model, "sha256": "nope"}, "64 hex digits"),
        ({**model, "file_name": "../../etc/x"}, "plain relative names"),
    ):
        r = await harness.client.post(
            "/api/v1/workflows/import",
            headers=team_a.auth(),
            json=definition({"graph": GRAPH, "models": [bad]}, parameters=[]),
        )
        assert r.status_code == 422 and fragment in r.json()["error_message"], r.text
