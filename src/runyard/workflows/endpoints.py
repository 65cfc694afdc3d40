"""Management (`/workflows`) and runtime (`/r/workflows`) routes, including runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from runyard.api_docs import errors
from runyard.auth.principal import Principal
from runyard.deps import (
    ClockDep,
    ManageReader,
    ManageWriter,
    RateLimiterDep,
    RuntimeReader,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from runyard.files.quota import UsageDep
from runyard.files.schemas import PresignRequest, PresignResponse
from runyard.files.service import FileService
from runyard.models import Workflow, WorkflowVersion
from runyard.pagination import PageDep
from runyard.ratelimit import client_address
from runyard.workflows.bounds import WorkflowBounds
from runyard.workflows.schemas import (
    BundlePresign,
    WorkflowDefinition,
    WorkflowList,
    WorkflowRead,
    WorkflowUpdate,
)
from runyard.workflows.service import WorkflowService, to_read

manage = APIRouter(prefix="/workflows", tags=["workflows"])
runtime = APIRouter(prefix="/r/workflows", tags=["runtime"])


@manage.post(
    "/import",
    response_model=WorkflowRead,
    status_code=201,
    operation_id="workflows_import",
    responses=errors(413),
)
async def import_workflow(
    body: WorkflowDefinition,
    principal: ManageWriter,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> WorkflowRead:
    """Create a workflow, or a new version of the one with this slug.

    The graph is bounded (depth, size, nodes, parameters: `RUNYARD_LIMIT_WORKFLOW_*`); a
    definition outside the bounds answers 413/422 and nothing is stored. A python workflow
    deployed with its code names its bundle in `workflow_json.bundle` (`file_key`, `sha256`,
    `file_size`, from `POST /workflows/bundles/presign`): an unknown one answers 404
    `bundle_not_found`, other bytes 400 `checksum_mismatch`, one not stored yet 422
    `file_not_uploaded`; the bundle is then kept as long as the workflow exists."""
    service = WorkflowService(session, clock, WorkflowBounds.of(settings.limits), storage)
    wf, v, _ = await service.import_definition(principal.team, body)
    return to_read(wf, v, with_json=True)


@manage.post(
    "/bundles/presign",
    response_model=PresignResponse,
    response_model_exclude_none=True,
    operation_id="workflows_bundles_presign",
    responses=errors(413, 429),
)
async def presign_bundle(
    body: BundlePresign,
    request: Request,
    principal: ManageWriter,
    limiter: RateLimiterDep,
    usage: UsageDep,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> PresignResponse:
    """Step 1 of deploying Python code: describe the bundle (a tar.gz; its `sha256` is
    required), get a presigned PUT whose signature covers the sha256. When the team holds these
    bytes already the answer is `already_uploaded: true` with that `file_key`: name it in the
    import, nothing to upload. Step 2: `POST /workflows/import` with `workflow_json.bundle`."""
    await limiter.presign_file(client_address(request.client), principal.rate_key)
    request_body = PresignRequest(
        file_name=body.file_name,
        file_size=body.file_size,
        content_type="application/gzip",
        sha256=body.sha256,
    )
    files = FileService(session, settings, storage, clock, usage)
    return await files.presign(principal.team, request_body, source="bundle")


@manage.get("", response_model=WorkflowList, operation_id="workflows_list", responses=errors())
async def list_workflows(
    principal: ManageReader, session: SessionDep, clock: ClockDep, page: PageDep
) -> WorkflowList:
    """The team's workflows (latest versions), by slug."""
    rows, total = await WorkflowService(session, clock).page(
        principal.team, page.offset, page.per_page
    )
    return WorkflowList(
        workflow_list=[to_read(w, v, with_json=True) for w, v in rows], page_meta=page.meta(total)
    )


@manage.get(
    "/{workflow_id}",
    response_model=WorkflowRead,
    operation_id="workflows_get",
    responses=errors(404),
)
async def get_workflow(
    workflow_id: str, principal: ManageReader, session: SessionDep, clock: ClockDep
) -> WorkflowRead:
    """One workflow with its graph or entrypoint."""
    wf, v = await WorkflowService(session, clock).get(principal.team, workflow_id)
    return to_read(wf, v, with_json=True)


@manage.put(
    "/{workflow_id}",
    response_model=WorkflowRead,
    operation_id="workflows_update",
    responses=errors(404, 413),
)
async def update_workflow(
    workflow_id: str,
    body: WorkflowUpdate,
    principal: ManageWriter,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> WorkflowRead:
    """Change any field; every change of the definition creates a new version (older ones
    stay runnable). `workflow_status` alone (disable or enable) changes no version."""
    service = WorkflowService(session, clock, WorkflowBounds.of(settings.limits), storage)
    wf, v = await service.update(principal.team, workflow_id, body)
    return to_read(wf, v, with_json=True)


@manage.delete(
    "/{workflow_id}", status_code=204, operation_id="workflows_delete", responses=errors(404)
)
async def delete_workflow(
    workflow_id: str, principal: ManageWriter, session: SessionDep, clock: ClockDep
) -> Response:
    """Delete a workflow (its tasks and results stay readable)."""
    await WorkflowService(session, clock).delete(principal.team, workflow_id)
    return Response(status_code=204)


def _runtime_read(p: Principal, wf: Workflow, v: WorkflowVersion) -> dict[str, Any]:
    read = to_read(wf, v, with_json=p.kind == "session")
    return read.model_dump(mode="json", exclude_none=p.kind != "session")


@runtime.get(
    "",
    response_model=WorkflowList,
    response_model_exclude_none=True,
    operation_id="runtime_workflows_list",
    responses=errors(),
)
async def runtime_list(
    principal: RuntimeReader, session: SessionDep, clock: ClockDep, page: PageDep
) -> Any:
    """The team's workflows with their parameters."""
    rows, total = await WorkflowService(session, clock).page(
        principal.team, page.offset, page.per_page
    )
    return {
        "workflow_list": [_runtime_read(principal, w, v) for w, v in rows],
        "page_meta": page.meta(total).model_dump(),
    }


@runtime.get(
    "/slug/{workflow_slug}",
    response_model=WorkflowRead,
    response_model_exclude_none=True,
    operation_id="runtime_workflows_get_by_slug",
    responses=errors(404),
)
async def runtime_get_by_slug(
    workflow_slug: str, principal: RuntimeReader, session: SessionDep, clock: ClockDep
) -> Any:
    """A workflow by slug; `slug@version` addresses an older version."""
    wf, v = await WorkflowService(session, clock).get_by_ref(principal.team, workflow_slug)
    return _runtime_read(principal, wf, v)


@runtime.get(
    "/{workflow_id}",
    response_model=WorkflowRead,
    response_model_exclude_none=True,
    operation_id="runtime_workflows_get",
    responses=errors(404),
)
async def runtime_get(
    workflow_id: str, principal: RuntimeReader, session: SessionDep, clock: ClockDep
) -> Any:
    """A workflow by id."""
    wf, v = await WorkflowService(session, clock).get(principal.team, workflow_id)
    return _runtime_read(principal, wf, v)
