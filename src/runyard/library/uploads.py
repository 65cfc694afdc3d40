"""``/api/v1/models/multipart/…``: model files above the single-upload limit, in parts, up to
``RUNYARD_LIMIT_MODEL_MAX`` (50 GiB). The same calls as ``/uploads/multipart/…`` (contract
section 4) but for members' session tokens and ``dk-`` keys (the CLI), with a required
``sha256`` that complete checks against the assembled file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from runyard.api_docs import errors
from runyard.deps import ClockDep, ManageWriter, SettingsDep, StorageDep, UnitDep
from runyard.library.schemas import ModelMultipartInitiate
from runyard.uploads.schemas import (
    AbortResult,
    MultipartAbort,
    MultipartComplete,
    MultipartCompleted,
    MultipartInitiate,
    MultipartInitiated,
    MultipartRead,
    PartsPresign,
    PartsPresigned,
)
from runyard.uploads.service import UploadService

router = APIRouter(prefix="/models/multipart", tags=["models"])


@router.post(
    "/initiate",
    response_model=MultipartInitiated,
    operation_id="models_multipart_initiate",
    responses=errors(413, 429, 503),
)
async def initiate(
    body: ModelMultipartInitiate,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartInitiated:
    """Start a multipart upload of a model file (`sha256` required; complete refuses other
    bytes with 400 `checksum_mismatch`). Then presign parts, PUT them, complete, and register
    the `file_key` with `POST /models`."""
    service = UploadService(uow, settings, storage, clock, for_models=True)
    request = MultipartInitiate(
        file_name=body.file_name, file_size=body.file_size, sha256=body.sha256
    )
    upload = await service.initiate(principal.team, principal.user_id, request)
    try:
        await uow.commit()
    except Exception:
        await service.discard(upload)
        raise
    return MultipartInitiated(
        upload_id=upload.id,
        file_key=upload.file_key,
        part_size=upload.part_size,
        part_count=upload.part_count,
        expires_at=upload.expires_at,
    )


@router.post(
    "/presign-parts",
    response_model=PartsPresigned,
    operation_id="models_multipart_presign_parts",
    responses=errors(404, 409, 410),
)
async def presign_parts(
    body: PartsPresign,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> PartsPresigned:
    """Presigned PUT URLs for the given parts (as `/uploads/multipart/presign-parts`)."""
    service = UploadService(uow, settings, storage, clock, for_models=True)
    return await service.presign_parts(principal.team, body)


@router.post(
    "/complete",
    response_model=MultipartCompleted,
    operation_id="models_multipart_complete",
    responses=errors(400, 404, 409, 410, 503),
)
async def complete(
    body: MultipartComplete,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartCompleted:
    """Assemble the parts and check the file's size and sha256 (as `/uploads/multipart/complete`,
    plus 400 `checksum_mismatch`, nothing kept)."""
    service = UploadService(uow, settings, storage, clock, for_models=True)
    return await service.complete(principal.team, body)


@router.post(
    "/abort",
    response_model=AbortResult,
    operation_id="models_multipart_abort",
    responses=errors(404, 409, 503),
)
async def abort(
    body: MultipartAbort,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> AbortResult:
    """Abort the upload and drop the parts stored so far."""
    service = UploadService(uow, settings, storage, clock, for_models=True)
    return await service.abort(principal.team, body)


@router.get(
    "/{upload_id}",
    response_model=MultipartRead,
    operation_id="models_multipart_read",
    responses=errors(404, 503),
)
async def read(
    upload_id: Annotated[str, Path(max_length=64, description="The upload_id from initiate.")],
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartRead:
    """The upload's state and the parts the store holds, to resume it."""
    service = UploadService(uow, settings, storage, clock, for_models=True)
    return await service.read(principal.team, upload_id)
