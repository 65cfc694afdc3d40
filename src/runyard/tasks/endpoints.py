from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from runyard.api_docs import errors
from runyard.deps import ClockDep, RuntimeReader, RuntimeWriter, SessionDep, SettingsDep, StorageDep
from runyard.pagination import PageDep
from runyard.tasks.schemas import CancelResult, TaskList, TaskRead, TaskResult
from runyard.tasks.service import TaskService, to_read

router = APIRouter(prefix="/r/tasks", tags=["runtime"])

StatusFilter = Literal[
    "pending", "waiting", "queued", "running", "completed", "failed", "cancelled"
]


@router.get("", response_model=TaskList, operation_id="tasks_list", responses=errors())
async def list_tasks(
    principal: RuntimeReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    page: PageDep,
    task_status: Annotated[StatusFilter | None, Query()] = None,
) -> TaskList:
    """The team's tasks, newest first, optionally filtered by `task_status`."""
    assert principal.team_id
    tasks, total = await TaskService(session, settings, clock).repo.page(
        principal.team_id, task_status, page.offset, page.per_page
    )
    return TaskList(task_list=[to_read(t) for t in tasks], page_meta=page.meta(total))


@router.get("/{task_id}", response_model=TaskRead, operation_id="tasks_get", responses=errors(404))
async def get_task(
    task_id: str,
    principal: RuntimeReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TaskRead:
    """One task: status, progress, resolved parameters, error, retries, agent, timestamps."""
    assert principal.team_id
    return to_read(await TaskService(session, settings, clock).get(principal.team_id, task_id))


@router.get(
    "/{task_id}/result",
    response_model=TaskResult,
    operation_id="tasks_result",
    responses=errors(404, 410),
)
async def task_result(
    task_id: str,
    principal: RuntimeReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    storage: StorageDep,
) -> TaskResult:
    """200 for every task; outputs and fresh download URLs once completed; 410 after retention."""
    assert principal.team_id
    return await TaskService(session, settings, clock).result(principal.team_id, task_id, storage)


@router.post(
    "/{task_id}/cancel",
    response_model=CancelResult,
    operation_id="tasks_cancel",
    responses=errors(404),
)
async def cancel_task(
    task_id: str,
    request: Request,
    principal: RuntimeWriter,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> CancelResult:
    """Cancel a task that has not finished (a running one is aborted on its agent).
    A finished task is left as it is."""
    assert principal.team_id
    task = await TaskService(session, settings, clock).cancel(principal.team_id, task_id)
    agent_id, attempt, status = task.agent_id, task.attempt, task.task_status
    cancel_running = task.cancel_requested_at is not None and agent_id is not None
    await session.commit()
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None and cancel_running and agent_id is not None:
        await gateway.send_cancel(task.team_id, agent_id, task_id, attempt, "cancelled")
    return CancelResult(is_success=True, task_status=status)
