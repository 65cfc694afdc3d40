"""Why a task waits: computed when the task is read, never stored, from the task, its
workflow version's requirements and the team's agents (the ``agents`` table: connected,
healthy, draining, labels, capacity, what their ComfyUI reported). The dispatcher decides on
its own; this only explains, in the order a newcomer needs it: nobody with the labels, nobody
connected, nobody healthy, everybody draining, nobody with the graph's node classes or models,
everybody still syncing the library models it names, everybody busy (with the task's place in
the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from runyard.agents.health import healthy_runtimes
from runyard.agents.repository import AgentRepository
from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.models import Agent, Task
from runyard.states import SCHEDULABLE
from runyard.tasks.repository import TaskQueue
from runyard.workflows.preflight import ComfyUICapabilities, refusal
from runyard.workflows.python_preflight import python_info, requirements_of
from runyard.workflows.python_preflight import refusal as python_refusal
from runyard.workflows.repository import WorkflowRepository
from runyard.workflows.requirements import graph_requirements

WaitingCode = Literal[
    "no_agent_with_labels",
    "agents_not_connected",
    "agents_unhealthy",
    "agents_draining",
    "agents_in_tunnel",
    "requirements_missing",
    "agents_syncing",
    "agents_busy",
    "about_to_be_assigned",
]


class WaitingReason(BaseModel):
    """Why a pending or waiting task has no agent yet, and what to do about it."""

    code: WaitingCode
    message: str = Field(description="Readable, with what to do.")
    queue_position: int | None = Field(
        default=None,
        description="1 = the next task of its queue (same labels and runtime) to be assigned.",
    )
    agent_ids: list[str] = Field(default_factory=list, description="The agents concerned.")


def _labels(task: Task) -> str:
    return ", ".join(task.required_labels) or "(none)"


def _detail(agent: Agent, runtime: str) -> str:
    """The agent's own words for its failing runtime (``system_info.runtimes.<name>.detail``)."""
    runtimes = (agent.system_info or {}).get("runtimes")
    if isinstance(runtimes, dict):
        for name in (runtime, *runtimes):
            entry = runtimes.get(name)
            if isinstance(entry, dict) and not entry.get("healthy") and entry.get("detail"):
                return f"{agent.agent_id}: {entry['detail']}"
    return f"{agent.agent_id}: reports itself unhealthy"


def explain(
    task: Task,
    agents: Sequence[Agent],
    held: dict[str, int],
    tool_type: str,
    missing: str | None,
    position: int,
    syncing: str | None = None,
) -> WaitingReason:
    """The reason from what was read (pure: the unit tests call it with plain rows)."""
    labels = _labels(task)
    if not agents:
        hint = (
            " For ComfyUI: `runyard agent --labels comfyui --comfyui-url http://127.0.0.1:8188`, "
            "or `runyard dev --comfyui-url …` on one machine."
            if tool_type == "comfyui"
            else ""
        )
        return WaitingReason(
            code="no_agent_with_labels",
            message=f"No agent with the labels {labels} has connected to this team: start one "
            f"with `runyard agent --labels {','.join(task.required_labels)}`.{hint}",
        )
    ids = [a.agent_id for a in agents]
    connected = [a for a in agents if a.connected]
    if not connected:
        return WaitingReason(
            code="agents_not_connected",
            message=f"The agents with the labels {labels} ({', '.join(ids)}) are not connected: "
            "start them again.",
            agent_ids=ids,
        )
    healthy = [
        a
        for a in connected
        if a.healthy and tool_type in healthy_runtimes(a.system_info, set(a.runtimes or []))
    ]
    if not healthy:
        reasons = "; ".join(_detail(a, tool_type) for a in connected)
        return WaitingReason(
            code="agents_unhealthy",
            message=f"The agents with the labels {labels} cannot run {tool_type} now: {reasons}.",
            agent_ids=[a.agent_id for a in connected],
        )
    open_ = [a for a in healthy if not a.draining]
    if not open_:
        return WaitingReason(
            code="agents_draining",
            message=f"The agents with the labels {labels} are draining (finishing their work "
            "before stopping): the task runs on the next agent that connects.",
            agent_ids=[a.agent_id for a in healthy],
        )
    if not (free := [a for a in open_ if not a.tunnel_exclusive]):
        return WaitingReason(
            code="agents_in_tunnel",
            message=f"The agents with the labels {labels} have an exclusive tunnel open (someone "
            "is working in their ComfyUI): the task runs once it is closed.",
            agent_ids=[a.agent_id for a in open_],
        )
    open_ = free
    if missing is not None:
        return WaitingReason(
            code="requirements_missing",
            message=missing
            + (
                ". Install what is missing in that ComfyUI, or connect an agent that has it."
                if tool_type == "comfyui"
                else "."
            ),
            agent_ids=[a.agent_id for a in open_],
        )
    if syncing is not None:
        return WaitingReason(
            code="agents_syncing",
            message=syncing + ". The task is assigned once an agent holds them (see "
            "sync_phase in GET /r/agents).",
            agent_ids=[a.agent_id for a in open_],
        )
    used = sum(held.get(a.agent_id, 0) for a in open_)
    capacity = sum(a.capacity for a in open_)
    if used >= capacity:
        return WaitingReason(
            code="agents_busy",
            message=f"All agents with the labels {labels} are busy ({used} of {capacity} slots "
            f"in use); this task is number {position + 1} in their queue.",
            queue_position=position + 1,
            agent_ids=[a.agent_id for a in open_],
        )
    return WaitingReason(
        code="about_to_be_assigned",
        message="An agent with the labels has a free slot: the task is assigned at the "
        "dispatcher's next pass.",
        queue_position=position + 1,
        agent_ids=[a.agent_id for a in open_],
    )


class WaitingReasons:
    """The reason of one task, read in a unit of its own (for event streams, which hold no
    session while they wait)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, team_id: str, task_id: str) -> WaitingReason | None:
        async with self.db.unit() as uow:
            task = await uow.session.get(Task, task_id)
            if task is None or task.team_id != team_id:
                return None
            return await waiting_reason(uow, task)


async def waiting_reason(uow: UnitOfWork, task: Task) -> WaitingReason | None:
    """The reason for a pending or waiting task; None for any other status."""
    if task.task_status not in SCHEDULABLE:
        return None
    session = uow.session
    agents = await AgentRepository(session).with_labels(task.team_id, list(task.required_labels))
    queue = TaskQueue(session)
    held = await AgentRepository(session).held_counts(task.team_id, [a.agent_id for a in agents])
    version = await WorkflowRepository(session).version(task.workflow_id, task.workflow_version)
    tool_type = version.tool_type if version is not None else "python"
    missing = syncing = None
    if version is not None and tool_type == "comfyui":
        needs = graph_requirements(version.workflow_json, version.parameters, task.parameters)
        usable = [a for a in agents if a.connected and a.healthy and not a.draining]
        reports = [(a.agent_id, ComfyUICapabilities.of(a.system_info)) for a in usable]
        missing = refusal(needs, reports)
        syncing = refusal(needs, reports, dispatching=True) if missing is None else None
    elif version is not None:
        usable = [a for a in agents if a.connected and a.healthy and not a.draining]
        missing = python_refusal(
            requirements_of(version.workflow_json),
            [(a.agent_id, python_info(a.system_info)) for a in usable],
        )
    position = await queue.ahead_of(task)
    return explain(task, agents, held, tool_type, missing, position, syncing)
