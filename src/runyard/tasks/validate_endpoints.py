"""Checking a run before any upload: ``POST /r/workflows/{workflow_id}/validate`` and
``/r/workflows/slug/{workflow_slug}/validate`` (the logic is ``tasks/validation.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request

from runyard.api_docs import errors
from runyard.auth.principal import Principal
from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.deps import ClockDep, RuntimeWriter, SettingsDep, StorageDep, UnitDep
from runyard.providers import provided
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks.submit import RunService
from runyard.tasks.transitions import TaskTransitions
from runyard.tasks.validation import validate_run
from runyard.workflows.schemas import RunRequest, RunValidated
from runyard.workflows.service import WorkflowService

checks = APIRouter(prefix="/r/workflows", tags=["runtime"])

_VALIDATE_DOC = """Check a run before uploading anything: the body of a run, where a file parameter
may be *declared* as `{"file_name", "file_size", "content_type"}` instead of a `file_key`.
**200** `{"parameters"}` (what the run would get), or exactly the refusal the run would give
(422 `invalid_parameters` with one `errors[]` entry per bad parameter, 409 `workflow_disabled`,
…). Nothing is created, uploaded or counted as a run."""


async def _validate(
    principal: Principal,
    uow: UnitOfWork,
    request: Request,
    needs: tuple[Settings, Storage, Clock],
    body: RunRequest,
    ref: str,
    by_slug: bool,
) -> RunValidated:
    team = principal.team
    settings, storage, clock = needs
    transitions = provided(request, "transitions", TaskTransitions)
    workflows = WorkflowService(uow.session, clock)
    wf, v = await (workflows.get_by_ref(team, ref) if by_slug else workflows.get(team, ref))
    service = RunService(uow, settings, storage, clock, transitions)
    return RunValidated(parameters=await validate_run(service, team, wf, v, body.parameters))


@checks.post(
    "/{workflow_id}/validate",
    response_model=RunValidated,
    operation_id="runtime_validate",
    responses=errors(404, 409),
    description=_VALIDATE_DOC,
)
async def validate_by_id(
    workflow_id: str,
    principal: RuntimeWriter,
    uow: UnitDep,
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    body: Annotated[RunRequest, Body()],
) -> RunValidated:
    needs = (settings, storage, clock)
    return await _validate(principal, uow, request, needs, body, workflow_id, False)


@checks.post(
    "/slug/{workflow_slug}/validate",
    response_model=RunValidated,
    operation_id="runtime_validate_by_slug",
    responses=errors(404, 409),
    description=_VALIDATE_DOC,
)
async def validate_by_slug(
    workflow_slug: str,
    principal: RuntimeWriter,
    uow: UnitDep,
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    body: Annotated[RunRequest, Body()],
) -> RunValidated:
    needs = (settings, storage, clock)
    return await _validate(principal, uow, request, needs, body, workflow_slug, True)
