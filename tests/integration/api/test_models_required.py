"""Workflows name library models in ``required_models`` (``model_type`` + ``model_path``):
checked at import; a run needs each to be an active model of the team's library (422
``library_model_missing`` naming it); an agent lacking the file does not refuse it at pre-flight
(the library syncs it)."""

from __future__ import annotations

import hashlib
from typing import Any

from runyard.models import Agent
from tests.integration.api.test_models_library import model, uploaded
from tests.integration.api.test_workflows_preflight import add_agent, caps
from tests.support.app import Harness, Team

GRAPH = {
    "1": {
        "class_type": "LoraLoaderModelOnly",
        "inputs": {"lora_name": "detail/tweaker.safetensors", "model": ["2", 0]},
    },
    "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
    "3": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}
REQUIRED = [
    {"model_type": "loras", "model_path": "detail/tweaker.safetensors"},
    {"model_type": "checkpoints", "model_path": "base.safetensors"},
]


def definition(required: Any = REQUIRED) -> dict[str, Any]:
    return {
        "workflow_slug": "lora-info",
        "tool_type": "comfyui",
        "workflow_json": {"graph": GRAPH, "required_models": required},
        "required_labels": ["comfyui"],
    }


async def run(h: Harness, team: Team) -> Any:
    return await h.client.post(
        "/api/v1/r/workflows/slug/lora-info/run",
        headers=team.auth("integration"),
        json={"parameters": {}},
    )


async def test_a_run_needs_every_named_model_in_the_library(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    # an agent that has the node classes but none of the files: not a refusal (synced)
    nodes = ["LoraLoaderModelOnly", "CheckpointLoaderSimple", "PreviewAny"]
    await add_agent(harness, team_a, "gpu-1", ["comfyui"], caps(nodes, []))
    imported = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition()
    )
    assert imported.status_code == 201, imported.text

    refused = await run(harness, team_a)

    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error_code"] == "library_model_missing"
    assert "loras/detail/tweaker.safetensors" in body["error_message"]
    assert "checkpoints/base.safetensors" in body["error_message"]

    key = await uploaded(harness, team_a)
    lora = await harness.client.post("/api/v1/models", headers=team_a.auth(), json=model(key))
    data = b"checkpoint bytes"
    base_key = await uploaded(harness, team_a, data)
    base = {
        **model(base_key, "base.safetensors", model_type="checkpoints"),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (
        await harness.client.post("/api/v1/models", headers=team_a.auth(), json=base)
    ).status_code == 201
    accepted = await run(harness, team_a)
    assert accepted.status_code == 202, accepted.text

    # disabled: refused again, saying so
    await harness.client.put(
        f"/api/v1/models/{lora.json()['id']}",
        headers=team_a.auth(),
        json={"model_status": "disabled"},
    )
    again = await run(harness, team_a)
    assert again.status_code == 422 and "(disabled)" in again.json()["error_message"]
    # another team's library never counts
    await harness.client.post("/api/v1/workflows/import", headers=team_b.auth(), json=definition())
    theirs = await run(harness, team_b)
    assert theirs.status_code == 422 and theirs.json()["error_code"] == "library_model_missing"


async def test_required_models_are_checked_at_import(harness: Harness, team_a: Team) -> None:
    for bad, why in (
        ([{"model_type": "loras", "model_path": "../x.safetensors"}], "../x.safetensors"),
        ([{"model_type": "loras"}], "exactly model_type and model_path"),
        ("loras/x", "must be a list"),
    ):
        r = await harness.client.post(
            "/api/v1/workflows/import", headers=team_a.auth(), json=definition(bad)
        )
        assert r.status_code == 422, r.text
        assert why in r.json()["error_message"], r.json()


async def test_a_run_waits_while_the_agents_sync_the_models_it_names(
    harness: Harness, team_a: Team
) -> None:
    nodes = ["LoraLoaderModelOnly", "CheckpointLoaderSimple", "PreviewAny"]
    async with harness.app.state.services.db.unit() as uow:
        uow.session.add(
            Agent(
                team_id=team_a.id,
                agent_id="gpu-sync",
                api_key_id="key",
                labels=["comfyui"],
                runtimes=["python", "comfyui"],
                capacity=1,
                connected=True,
                healthy=True,
                system_info={
                    "runtimes": {"comfyui": {"healthy": True, **caps(nodes, ["base.safetensors"])}},
                    "library_sync": {"sync_phase": "syncing", "sync_percent": 10.0, "models": {}},
                },
            )
        )
    imported = await harness.client.post(
        "/api/v1/workflows/import", headers=team_a.auth(), json=definition()
    )
    assert imported.status_code == 201, imported.text
    key = await uploaded(harness, team_a)
    await harness.client.post("/api/v1/models", headers=team_a.auth(), json=model(key))
    data = b"checkpoint bytes"
    base = {
        **model(
            await uploaded(harness, team_a, data), "base.safetensors", model_type="checkpoints"
        ),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    await harness.client.post("/api/v1/models", headers=team_a.auth(), json=base)

    accepted = await run(harness, team_a)  # not refused at pre-flight: the agent syncs
    assert accepted.status_code == 202, accepted.text
    task = await harness.client.get(
        f"/api/v1/r/tasks/{accepted.json()['task_id']}", headers=team_a.auth("integration")
    )
    reason = task.json()["waiting_reason"]
    assert reason["code"] == "agents_syncing", reason
    assert "library model loras/detail/tweaker.safetensors (syncing)" in reason["message"]
    assert "checkpoints/base.safetensors" not in reason["message"]  # already in its ComfyUI
    assert reason["agent_ids"] == ["gpu-sync"]
