"""The tools' bodies. Each opens one unit of work (committed when it returns, rolled back on a
``RunyardError``) and calls the services the HTTP routes call, in the caller's team."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import ValidationError

from runyard.agents.repository import AgentRepository
from runyard.agents.service import AgentService
from runyard.auth.principal import Principal
from runyard.errors import BadRequest, Unprocessable
from runyard.files.schemas import PresignRequest
from runyard.files.service import FileService
from runyard.library.package_schemas import NodePackageRead
from runyard.library.packages import NodePackageRepository
from runyard.library.repository import ModelRepository
from runyard.library.schemas import ModelRead
from runyard.mcp.schemas import (
    LISTED_WORKFLOWS,
    MAX_WAIT,
    parameters_schema,
    run_tool,
    static_tools,
)
from runyard.models import Workflow, WorkflowVersion
from runyard.services import Services
from runyard.states import TERMINAL
from runyard.tasks.service import TaskService, to_read
from runyard.tasks.submit import RunService
from runyard.workflows.service import WorkflowService
from runyard.workflows.service import to_read as workflow_read

Args = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    principal: Principal
    services: Services
    address: str

    @property
    def team(self) -> str:
        return self.principal.team


MAX_TEXT = 255  # ids, slugs and idempotency keys are far shorter; longer is never echoed


def _text(args: Args, name: str, required: bool = True) -> str | None:
    value = args.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"`{name}` must be a non-empty string.", code="invalid_request")
    if len(value) > MAX_TEXT:
        raise BadRequest(
            f"`{name}` is longer than {MAX_TEXT} characters: no such id exists.",
            code="invalid_request",
        )
    return value.strip()


def _int(args: Args, name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"`{name}` must be a whole number from {low} to {high}.")
    return value


def _page(args: Args) -> tuple[int, int]:
    page, per_page = _int(args, "current_page", 1, 1, 10**6), _int(args, "per_page", 20, 1, 100)
    return (page - 1) * per_page, per_page


def _workflow(wf: Workflow, v: WorkflowVersion) -> dict[str, Any]:
    read = workflow_read(wf, v, with_json=False).model_dump(mode="json", exclude_none=True)
    read["input_schema"] = parameters_schema(v.parameters)
    return read


async def list_tools(caller: Caller) -> list[types.Tool]:
    async with caller.services.db.unit() as uow:
        rows, _ = await WorkflowService(uow.session, caller.services.clock).page(
            caller.team, 0, LISTED_WORKFLOWS
        )
        agents = await AgentRepository(uow.session).connected(caller.team)
    label_sets = [set(a.labels or []) for a in agents if a.healthy]
    runnable = [
        (wf, v) for wf, v in rows if any(set(v.required_labels) <= have for have in label_sets)
    ]
    workflows = [(wf.workflow_slug, v.description, list(v.parameters)) for wf, v in runnable]
    idle = [wf.workflow_slug for wf, v in rows if (wf, v) not in runnable]
    return [*static_tools(), run_tool(workflows, idle)]


async def list_workflows(caller: Caller, args: Args) -> dict[str, Any]:
    offset, per_page = _page(args)
    async with caller.services.db.unit() as uow:
        rows, total = await WorkflowService(uow.session, caller.services.clock).page(
            caller.team, offset, per_page
        )
        return {
            "workflow_list": [_workflow(wf, v) for wf, v in rows],
            "page_meta": {
                "current_page": offset // per_page + 1,
                "per_page": per_page,
                "total_count": total,
            },
        }


async def get_workflow(caller: Caller, args: Args) -> dict[str, Any]:
    slug, workflow_id = _text(args, "workflow_slug", False), _text(args, "workflow_id", False)
    if (slug is None) == (workflow_id is None):
        raise BadRequest("Give exactly one of `workflow_slug` and `workflow_id`.")
    async with caller.services.db.unit() as uow:
        service = WorkflowService(uow.session, caller.services.clock)
        if slug is not None:
            wf, v = await service.get_by_ref(caller.team, slug)
        else:
            assert workflow_id is not None
            wf, v = await service.get(caller.team, workflow_id)
        return _workflow(wf, v)


async def run_workflow_by_slug(caller: Caller, args: Args) -> dict[str, Any]:
    slug = _text(args, "workflow_slug")
    assert slug is not None
    parameters = args.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise Unprocessable("`parameters` must be an object.", code="invalid_request")
    key = _text(args, "idempotency_key", False)
    body: dict[str, Any] = {"parameters": parameters}
    if args.get("priority") is not None:
        body["priority"] = _int(args, "priority", 0, -10, 10)
    services = caller.services
    await services.rate_limiter.submit_run(caller.address, caller.principal.rate_key)
    async with services.db.unit() as uow:
        wf, v = await WorkflowService(uow.session, services.clock).get_by_ref(caller.team, slug)
        submitted = await RunService(
            uow, services.settings, services.storage, services.clock, services.transitions
        ).submit(
            caller.team,
            wf,
            v,
            body,
            workflow_ref=f"{wf.id}@{v.version}",
            idempotency_key=key,
        )
    return {"task_id": submitted.task_id, "idempotent_replayed": submitted.replayed}


async def _task(caller: Caller, task_id: str) -> dict[str, Any]:
    services = caller.services
    async with services.db.unit() as uow:
        task = await TaskService(uow, services.settings, services.clock).get(caller.team, task_id)
        return to_read(task).model_dump(mode="json")


async def get_task(caller: Caller, args: Args) -> dict[str, Any]:
    task_id = _text(args, "task_id")
    assert task_id is not None
    return await _task(caller, task_id)


async def wait_task(caller: Caller, args: Args) -> dict[str, Any]:
    """Woken by the event hub on every committed change of the task; also reads it every
    ``events.safety_poll`` (``events.poll_interval`` while changes of other server processes
    cannot be heard)."""
    task_id = _text(args, "task_id")
    assert task_id is not None
    timeout = args.get("timeout_seconds", 30)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or (isinstance(timeout, float) and math.isnan(timeout))
        or timeout < 0
    ):
        # NaN passed every comparison and waited past the cap (issue 32).
        raise BadRequest(f"`timeout_seconds` must be a number of seconds from 0 to {MAX_WAIT:g}.")
    hub, poll = caller.services.events, caller.services.feed.poll_interval
    deadline = time.monotonic() + float(min(timeout, MAX_WAIT))  # no float() of a huge int
    wake = hub.subscribe(task_id)
    try:
        while True:
            wake.clear()
            task = await _task(caller, task_id)
            finished = task["task_status"] in {s.value for s in TERMINAL}
            left = deadline - time.monotonic()
            if finished or left <= 0 or hub.closing:
                return {"finished": finished, "task": task}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(left, poll))
    finally:
        hub.unsubscribe(task_id, wake)


async def get_task_result(caller: Caller, args: Args) -> dict[str, Any]:
    task_id = _text(args, "task_id")
    assert task_id is not None
    services = caller.services
    async with services.db.unit() as uow:
        result = await TaskService(uow, services.settings, services.clock).result(
            caller.team, task_id, services.storage
        )
        return result.model_dump(mode="json")


async def cancel_task(caller: Caller, args: Args) -> dict[str, Any]:
    task_id = _text(args, "task_id")
    assert task_id is not None
    services = caller.services
    async with services.db.unit() as uow:
        task = await TaskService(uow, services.settings, services.clock).cancel(
            caller.team, task_id, services.gateway
        )
        status = task.task_status
    return {"is_success": True, "task_status": status.value}


async def list_agents(caller: Caller, args: Args) -> dict[str, Any]:
    offset, per_page = _page(args)
    async with caller.services.db.unit() as uow:
        agents, total = await AgentService(uow).page(caller.team, offset, per_page)
        return {
            "agent_list": [a.model_dump(mode="json") for a in agents],
            "page_meta": {
                "current_page": offset // per_page + 1,
                "per_page": per_page,
                "total_count": total,
            },
        }


async def list_models(caller: Caller, args: Args) -> dict[str, Any]:
    offset, per_page = _page(args)
    status = _text(args, "model_status", required=False)
    if status not in (None, "active", "disabled"):
        raise BadRequest("`model_status` must be active or disabled.", code="invalid_request")
    async with caller.services.db.unit() as uow:
        rows, total = await ModelRepository(uow.session).page(
            caller.team, offset, per_page, status, _text(args, "model_type", required=False)
        )
        return {
            "model_list": [
                ModelRead.model_validate(r, from_attributes=True).model_dump(mode="json")
                for r in rows
            ],
            "page_meta": {
                "current_page": offset // per_page + 1,
                "per_page": per_page,
                "total_count": total,
            },
        }


async def list_node_packages(caller: Caller, args: Args) -> dict[str, Any]:
    offset, per_page = _page(args)
    status = _text(args, "package_status", required=False)
    if status not in (None, "active", "disabled"):
        raise BadRequest("`package_status` must be active or disabled.", code="invalid_request")
    async with caller.services.db.unit() as uow:
        rows, total = await NodePackageRepository(uow.session).page(
            caller.team, offset, per_page, status
        )
        listed = [NodePackageRead.model_validate(r, from_attributes=True) for r in rows]
    return {
        "node_package_list": [p.model_dump(mode="json") for p in listed],
        "page_meta": {
            "current_page": offset // per_page + 1,
            "per_page": per_page,
            "total_count": total,
        },
    }


async def presign_upload(caller: Caller, args: Args) -> dict[str, Any]:
    try:
        body = PresignRequest.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"Invalid arguments: {where}: {first.get('msg')}") from exc
    services = caller.services
    await services.rate_limiter.presign_file(caller.address, caller.principal.rate_key)
    async with services.db.unit() as uow:
        service = FileService(
            uow.session, services.settings, services.storage, services.clock, services.usage
        )
        result = await service.presign(caller.team, body)
    return result.model_dump(mode="json")


TOOLS: dict[str, Callable[[Caller, Args], Awaitable[dict[str, Any]]]] = {
    "list_workflows": list_workflows,
    "get_workflow": get_workflow,
    "run_workflow_by_slug": run_workflow_by_slug,
    "get_task": get_task,
    "wait_task": wait_task,
    "get_task_result": get_task_result,
    "cancel_task": cancel_task,
    "list_agents": list_agents,
    "list_models": list_models,
    "list_node_packages": list_node_packages,
    "presign_upload": presign_upload,
}
