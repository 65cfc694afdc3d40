from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from runyard.api_docs import errors
from runyard.deps import (
    ClockDep,
    GatewayDep,
    RuntimeReader,
    RuntimeWriter,
    SettingsDep,
    StorageDep,
    UnitDep,
)
from runyard.pagination import PageDep
from runyard.tasks.schemas import CancelResult, TaskList, TaskRead, TaskResult
from runyard.tasks.service import TaskService, to_read
from runyard.tasks.states import TaskStatus

router = APIRouter(prefix="/r/tasks", tags=["runtime"])


@router.get("", response_model=TaskList, operation_id="tasks_list", responses=errors())
async def list_tasks(
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    page: PageDep,
    task_status: Annotated[TaskStatus | None, Query()] = None,
) -> TaskList:
    """The team's tasks, newest first, optionally filtered by `task_status`."""
    tasks, total = await TaskService(uow, settings, clock).page(
        principal.team, task_status, page.offset, page.per_page
    )
    return TaskList(task_list=tasks, page_meta=page.meta(total))


@router.get("/{task_id}", response_model=TaskRead, operation_id="tasks_get", responses=errors(404))
async def get_task(
    task_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TaskRead:
    """One task: status, progress, resolved parameters, error, retries, agent, timestamps."""
    return to_read(await TaskService(uow, settings, clock).get(principal.team, task_id))


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
