"""Checking a run before any upload: ``POST /r/workflows/{workflow_id}/validate`` and
``/r/workflows/slug/{workflow_slug}/validate`` (the logic is ``tasks/validation.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from runyard.api_docs import errors
from runyard.auth.principal import Principal
from runyard.db.unit import UnitOfWork
from runyard.deps import RuntimeWriter, ServicesDep, UnitDep
from runyard.services import Services
from runyard.tasks.submit import RunService
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
    services: Services,
    body: RunRequest,
    ref: str,
    by_slug: bool,
) -> RunValidated:
    team = principal.team
    workflows = WorkflowService(uow.session, services.clock)
    wf, v = await (workflows.get_by_ref(team, ref) if by_slug else workflows.get(team, ref))
    service = RunService(
        uow, services.settings, services.storage, services.clock, services.transitions
    )
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
    services: ServicesDep,
    body: Annotated[RunRequest, Body()],
) -> RunValidated:
    return await _validate(principal, uow, services, body, workflow_id, False)


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
    services: ServicesDep,
    body: Annotated[RunRequest, Body()],
) -> RunValidated:
    return await _validate(principal, uow, services, body, workflow_slug, True)
