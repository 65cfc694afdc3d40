"""Pre-flight in the scheduler: a ComfyUI task only goes to an agent whose ComfyUI has its node
classes and models (agents that never reported are not excluded), preferring model holders."""

from __future__ import annotations

from typing import Any

from runyard.models import WorkflowVersion
from runyard.states import TaskStatus as S
from runyard.workflows.preflight import ComfyUICapabilities
from tests.unit.scheduler.conftest import World

GRAPH = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
}


def comfy(nodes: list[str], checkpoints: list[str]) -> dict[str, Any]:
    return {
        "runtimes": {
            "comfyui": {
                "healthy": True,
                "node_classes": nodes,
                "models": {"checkpoints": checkpoints},
            }
        }
    }


async def comfy_workflow(world: World) -> str:
    wf = await world.workflow(labels=["comfyui"])
    async with world.db.unit() as uow:
        version = await uow.session.get(WorkflowVersion, (wf, 1))
        assert version is not None
        version.tool_type = "comfyui"
        version.workflow_json = GRAPH
    return wf


async def test_a_comfyui_task_goes_only_where_its_nodes_and_models_are(world: World) -> None:
    wf = await comfy_workflow(world)
    task_id = await world.task(wf)
    both = ["CheckpointLoaderSimple", "PreviewAny"]
    lacking_model = await world.connect(
        "no-model", capacity=4, labels={"comfyui"}, system_info=comfy(both, ["other.ckpt"])
    )
    lacking_node = await world.connect(
        "no-node",
        capacity=4,
        labels={"comfyui"},
        system_info=comfy(["PreviewAny"], ["sd15.safetensors"]),
    )
    assert await world.dispatcher.dispatch_once() == 0
    world.clock.advance(world.settings.scheduler.poll_interval + 0.1)
    assert await world.dispatcher.dispatch_once() == 0
    assert (await world.get(task_id)).task_status is S.WAITING
    assert not lacking_model.frames("task.assign") and not lacking_node.frames("task.assign")

    await world.connect(
        "has-all", capacity=1, labels={"comfyui"}, system_info=comfy(both, ["sd15.safetensors"])
    )
    assert await world.dispatcher.dispatch_once() == 1
    task = await world.get(task_id)
    assert (task.task_status, task.agent_id) == (S.QUEUED, "has-all")


async def test_model_holders_are_preferred_and_unknown_agents_still_serve(world: World) -> None:
    wf = await comfy_workflow(world)
    first = await world.task(wf)
    # "unknown" never reported its ComfyUI: eligible, but the holder comes first even though
    # it has fewer free slots.
    await world.connect("unknown", capacity=4, labels={"comfyui"}, system_info={"x": 1})
    await world.connect(
        "holder",
        capacity=1,
        labels={"comfyui"},
        system_info=comfy(["CheckpointLoaderSimple", "PreviewAny"], ["sd15.safetensors"]),
    )
    assert await world.dispatcher.dispatch_once() == 1
    assert (await world.get(first)).agent_id == "holder"
    second = await world.task(wf)
    assert await world.dispatcher.dispatch_once() == 1
    assert (await world.get(second)).agent_id == "unknown"


async def test_an_agent_syncing_the_library_gets_the_task_once_it_holds_the_model(
    world: World,
) -> None:
    wf = await comfy_workflow(world)
    async with world.db.unit() as uow:
        version = await uow.session.get(WorkflowVersion, (wf, 1))
        assert version is not None
        version.workflow_json = {
            "graph": GRAPH,
            "required_models": [{"model_type": "checkpoints", "model_path": "sd15.safetensors"}],
        }
    task_id = await world.task(wf)
    both = ["CheckpointLoaderSimple", "PreviewAny"]
    syncing = {
        **comfy(both, []),
        "library_sync": {"sync_phase": "syncing", "sync_percent": 40.0, "models": {}},
    }
    sock = await world.connect("syncing", capacity=2, labels={"comfyui"}, system_info=syncing)
    assert await world.dispatcher.dispatch_once() == 0
    assert not sock.frames("task.assign")
    # The sync placed it (reported before ComfyUI's own listing is refreshed): assigned.
    conn = world.gateway.get(world.team_id, "syncing")
    assert conn is not None
    done = {**comfy(both, []), "library_sync": {"models": {"checkpoints": ["sd15.safetensors"]}}}
    conn.comfyui = ComfyUICapabilities.of(done)
    assert await world.dispatcher.dispatch_once() == 1
    assert (await world.get(task_id)).agent_id == "syncing"
