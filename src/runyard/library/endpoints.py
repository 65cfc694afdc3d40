"""``/api/v1/models…``: the team's model library. Members and up write (session or ``dk-``);
every member and ``sk-`` keys read."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response

from runyard.api_docs import errors
from runyard.db.unit import UnitOfWork
from runyard.deps import (
    ClockDep,
    ManageWriter,
    RateLimiterDep,
    RuntimeReader,
    SettingsDep,
    StorageDep,
    UnitDep,
)
from runyard.files.quota import UsageDep
from runyard.files.schemas import PresignResponse
from runyard.library.schemas import (
    ModelCreate,
    ModelList,
    ModelPresign,
    ModelRead,
    ModelStatus,
    ModelUpdate,
)
from runyard.library.service import ModelService
from runyard.models import LibraryModel
from runyard.pagination import PageDep
from runyard.providers import provider
from runyard.ratelimit import client_address

router = APIRouter(prefix="/models", tags=["models"])


def _read(row: LibraryModel) -> ModelRead:
    return ModelRead.model_validate(row, from_attributes=True)


class LibraryChanges(Protocol):
    """Who hears of a committed change of a team's library (the gateway's ``LibraryPusher``)."""

    def changed(self, team_id: str) -> None: ...


ChangesDep = Annotated[LibraryChanges, Depends(provider("library", LibraryChanges))]


def sync_after_commit(uow: UnitOfWork, changes: LibraryChanges, team_id: str) -> None:
    """Once the change is durable, the team's agents (on every server process) get the set."""

    async def push() -> None:
        changes.changed(team_id)

    uow.after_commit(push)


@router.post(
    "/presign",
    response_model=PresignResponse,
    response_model_exclude_none=True,
    operation_id="models_presign",
    responses=errors(413, 429),
)
async def presign_model(
    body: ModelPresign,
    request: Request,
    principal: ManageWriter,
    limiter: RateLimiterDep,
    usage: UsageDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> PresignResponse:
    """Step 1 of adding a model: describe the file (its `sha256` is required), get a presigned
    PUT whose signature covers the sha256 (the store refuses other bytes).

    When the team already holds these bytes (a registered model, or an upload not registered
    yet), the answer is `already_uploaded: true` with that `file_key`: register it, nothing to
    upload. Above the single-upload limit this answers 413: use `/models/multipart/…`.
    """
    await limiter.presign_file(client_address(request.client), principal.rate_key)
    service = ModelService(uow, settings, storage, clock, usage)
    return await service.presign(principal.team, body)


@router.post(
    "",
    response_model=ModelRead,
    status_code=201,
    operation_id="models_create",
    responses=errors(400, 404, 409, 422),
)
async def create_model(
    body: ModelCreate,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> ModelRead:
    """Register an uploaded file as a model at `models/<model_type>/<model_path>` on the team's
    agents. The upload must be this team's, stored, with this `sha256` (else 404
    `file_not_found`, 422 `file_not_uploaded`, 400 `checksum_mismatch`); a path taken by another
    model answers 409 `model_exists`; a path with `..`, a leading `/` or `\\` answers 422
    `invalid_model_path`. The file is kept as long as a model names it."""
    row = await ModelService(uow, settings, storage, clock).register(principal.team, body)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return _read(row)


@router.get("", response_model=ModelList, operation_id="models_list", responses=errors())
async def list_models(
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
    page: PageDep,
    model_status: Annotated[ModelStatus | None, Query()] = None,
    model_type: Annotated[str | None, Query(max_length=50)] = None,
) -> ModelList:
    """The team's models by type and path; filter by `model_status` or `model_type`."""
    rows, total = await ModelService(uow, settings, storage, clock).repo.page(
        principal.team, page.offset, page.per_page, model_status, model_type
    )
    return ModelList(model_list=[_read(r) for r in rows], page_meta=page.meta(total))


@router.get(
    "/{model_id}", response_model=ModelRead, operation_id="models_get", responses=errors(404)
)
async def get_model(
    model_id: str,
    principal: RuntimeReader,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> ModelRead:
    """One model (404 `model_not_found` for an unknown id or another team's)."""
    return _read(await ModelService(uow, settings, storage, clock).get(principal.team, model_id))


@router.put(
    "/{model_id}",
    response_model=ModelRead,
    operation_id="models_update",
    responses=errors(404, 409, 422),
)
async def update_model(
    model_id: str,
    body: ModelUpdate,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> ModelRead:
    """Change a model's metadata: `display_name`, `model_type`, `model_path`, `model_status`
    (`disabled` takes it out of the agents' sync set). Its bytes never change."""
    service = ModelService(uow, settings, storage, clock)
    row = await service.update(principal.team, model_id, body)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return _read(row)


@router.delete("/{model_id}", status_code=204, operation_id="models_delete", responses=errors(404))
async def delete_model(
    model_id: str,
    principal: ManageWriter,
    changes: ChangesDep,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> Response:
    """Remove a model from the library (and from the agents' sync set). Its file is dropped
    after a day unless another model names the same bytes."""
    await ModelService(uow, settings, storage, clock).delete(principal.team, model_id)
    sync_after_commit(uow, changes, principal.team)
    await uow.commit()
    return Response(status_code=204)
