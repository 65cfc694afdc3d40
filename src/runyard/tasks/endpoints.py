from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from runyard.api_docs import errors
from runyard.deps import (
    ClockDep,
    RuntimeReader,
    RuntimeWriter,
    SettingsDep,
    StorageDep,
    UnitDep,
)
from runyard.errors import NotFound
from runyard.pagination import PageDep
from runyard.providers import provider
from runyard.states import TaskStatus
from runyard.tasks.repository import TaskFilter
from runyard.tasks.schemas import CancelResult, TaskList, TaskRead, TaskResult
from runyard.tasks.service import LiveAgents, TaskService, to_read
from runyard.tasks.waiting import waiting_reason

router = APIRouter(prefix="/r/tasks", tags=["runtime"])
GatewayDep = Annotated[LiveAgents, Depends(provider("gateway", LiveAgents))]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("", response_model=TaskList, operation_id="tasks_list", responses=errors())
async def list_tasks(
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    page: PageDep,
    task_status: Annotated[TaskStatus | None, Query()] = None,
    workflow_id: Annotated[str | None, Query(max_length=64)] = None,
    workflow_slug: Annotated[str | None, Query(max_length=100)] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            description="`page_meta.next_cursor` of the previous page: continue after it "
            "(keyset paging, constant cost at any depth; `current_page` is then not used).",
        ),
    ] = None,
) -> TaskList:
    """The team's tasks, newest first, optionally filtered by `task_status`, by workflow
    (`workflow_id` or `workflow_slug`) and by creation time (`created_after` inclusive,
    `created_before` exclusive; ISO 8601, a time without an offset is UTC).

    `page_meta.total_count` is exact up to 1,000 matching tasks (`total_exact`); past that it
    reads 1001. For deep pages follow `page_meta.next_cursor` with `cursor`."""
    wanted = TaskFilter(
        task_status=task_status,
        workflow_id=workflow_id,
        workflow_slug=workflow_slug,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
    )
    return await TaskService(uow, settings, clock).page(principal.team, wanted, page, cursor)


@router.get("/{task_id}", response_model=TaskRead, operation_id="tasks_get", responses=errors(404))
async def get_task(
    task_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TaskRead:
    """One task: status, progress, resolved parameters, error, retries, agent, timestamps,
    and while it is pending or waiting, `waiting_reason`: why no agent runs it yet."""
    task = await TaskService(uow, settings, clock).get(principal.team, task_id)
    read = to_read(task)
    read.waiting_reason = await waiting_reason(uow, task)
    return read


@router.get(
    "/{task_id}/result",
    response_model=TaskResult,
    operation_id="tasks_result",
    responses=errors(404, 410),
)
async def task_result(
    task_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    storage: StorageDep,
) -> TaskResult:
    """200 for every task; outputs and fresh download URLs once completed; 410 after retention."""
    return await TaskService(uow, settings, clock).result(principal.team, task_id, storage)


@router.post(
    "/{task_id}/cancel",
    response_model=CancelResult,
    operation_id="tasks_cancel",
    responses=errors(404),
)
async def cancel_task(
    task_id: str,
    principal: RuntimeWriter,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    gateway: GatewayDep,
) -> CancelResult:
    """Cancel a task that has not finished (a running one is aborted on its agent).
    A finished task is left as it is."""
    task = await TaskService(uow, settings, clock).cancel(principal.team, task_id, gateway)
    return CancelResult(is_success=True, task_status=task.task_status)


@router.get(
    "/{task_id}/preview",
    response_class=Response,
    operation_id="tasks_preview",
    responses={
        200: {
            "description": "The latest live preview image (JPEG or PNG).",
            "content": {"image/jpeg": {}, "image/png": {}},
        },
        **errors(404),
    },
)
async def task_preview(
    task_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    gateway: GatewayDep,
) -> Response:
    """The latest live preview of a running task (ComfyUI sampler steps, when its agent sends
    them), announced by `preview` events. 404 `preview_not_found` when there is none (yet), after
    the attempt ended, or when asked of a server process the agent is not connected to."""
    task = await TaskService(uow, settings, clock).get(principal.team, task_id)
    preview = gateway.previews.get(task.id, task.attempt)
    if preview is None:
        raise NotFound(f"Task {task_id!r} has no live preview.", code="preview_not_found")
    return Response(
        preview.data,
        media_type=preview.content_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
