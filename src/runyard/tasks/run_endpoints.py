"""Runs: ``POST /r/workflows/{workflow_id}/run`` and ``/r/workflows/slug/{workflow_slug}/run``.
The workflow is resolved by the workflows service; the task is made by ``tasks.submit``
through the transition seam (the container's ``transitions``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse

from runyard.api_docs import errors
from runyard.auth.principal import Principal
from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.deps import ClockDep, RuntimeWriter, SettingsDep, StorageDep, UnitDep
from runyard.providers import provided
from runyard.ratelimit import RateLimiter, client_address
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks.submit import RunService
from runyard.tasks.transitions import TaskTransitions
from runyard.workflows.schemas import RunAccepted, RunRequest
from runyard.workflows.service import WorkflowService

runs = APIRouter(prefix="/r/workflows", tags=["runtime"])

IdempotencyHeader = Annotated[
    str | None,
    Header(max_length=255, description="Repeat-safe submit: same key + same body = same task."),
]


async def _run(
    principal: Principal,
    uow: UnitOfWork,
    settings: Settings,
    storage: Storage,
    clock: Clock,
    body: RunRequest,
    ref: str,
    by_slug: bool,
    key: str | None,
    request: Request,
) -> JSONResponse:
    team = principal.team
    limiter = provided(request, "rate_limiter", RateLimiter)
    await limiter.submit_run(client_address(request.client), principal.rate_key)
    transitions = provided(request, "transitions", TaskTransitions)
    workflows = WorkflowService(uow.session, clock)
    wf, v = await (workflows.get_by_ref(team, ref) if by_slug else workflows.get(team, ref))
    submitted = await RunService(uow, settings, storage, clock, transitions).submit(
        team,
        wf,
        v,
        body.model_dump(mode="json"),
        workflow_ref=f"{wf.id}@{v.version}",
        idempotency_key=key,
    )
    headers = {"Idempotent-Replayed": "true"} if submitted.replayed else {}
    return JSONResponse({"task_id": submitted.task_id}, status_code=202, headers=headers)


_RUN_DOC = """Submit a task: **202** `{"task_id"}`. Every parameter is validated first (422
`invalid_parameters` with one `errors[]` entry per bad parameter). With an `Idempotency-Key`, a
repeat with the same body answers 202 with the original task and `Idempotent-Replayed: true`; a
different body answers 409 `idempotency_key_reused`."""


@runs.post(
    "/{workflow_id}/run",
    status_code=202,
    response_model=RunAccepted,
    operation_id="runtime_run",
    responses=errors(404, 409, 429),
    description=_RUN_DOC,
)
async def run_by_id(
    workflow_id: str,
    principal: RuntimeWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    body: Annotated[RunRequest, Body()],
    request: Request,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _run(
        principal, uow, settings, storage, clock, body, workflow_id, False, idempotency_key, request
    )


@runs.post(
    "/slug/{workflow_slug}/run",
    status_code=202,
    response_model=RunAccepted,
    operation_id="runtime_run_by_slug",
    responses=errors(404, 409, 429),
    description=_RUN_DOC,
)
async def run_by_slug(
    workflow_slug: str,
    principal: RuntimeWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    body: Annotated[RunRequest, Body()],
    request: Request,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _run(
        principal,
        uow,
        settings,
        storage,
        clock,
        body,
        workflow_slug,
        True,
        idempotency_key,
        request,
    )
