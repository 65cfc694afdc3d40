"""``/api/v1/uploads/multipart/…`` (contract section 4). Session tokens of members and up only:
``sk-``/``dk-``/``ak-`` keys get 401 ``credential_kind_not_allowed`` (they use
``/r/files/presign``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from runyard.api_docs import errors
from runyard.deps import ClockDep, MultipartCaller, SettingsDep, StorageDep, UnitDep
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

router = APIRouter(prefix="/uploads/multipart", tags=["uploads"])


@router.post(
    "/initiate",
    response_model=MultipartInitiated,
    operation_id="uploads_multipart_initiate",
    responses=errors(413, 429, 503),
)
async def initiate(
    body: MultipartInitiate,
    principal: MultipartCaller,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartInitiated:
    """Start a multipart upload of `file_size` bytes (1 byte up to the multipart limit, 50 GiB by
    default; above it 413 `file_too_large`).

    The file is sent in `part_count` parts numbered from 1, each of exactly `part_size` bytes
    except the last. Unfinished uploads are aborted after 1 day. A team may have a limited number
    of unfinished uploads (429 `too_many_open_uploads`) and shares its daily byte budget with
    `/r/files/presign` (429 `upload_quota_exceeded`).
    """
    service = UploadService(uow, settings, storage, clock)
    upload = await service.initiate(principal.team, principal.user_id, body)
    try:
        # Committed here rather than when the route returns: the store already holds the
        # upload, and it must be aborted there if its row cannot be kept.
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
    operation_id="uploads_multipart_presign_parts",
    responses=errors(404, 409, 410),
)
async def presign_parts(
    body: PartsPresign,
    principal: MultipartCaller,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> PartsPresigned:
    """Presigned PUT URLs for the given parts; call again for parts whose URLs expired.

    PUT each part's bytes with every header of its `upload_headers` (its exact Content-Length
    is signed: a part of another length is refused by the store with 403) and keep the `ETag`
    the store answers. A part number outside 1..part_count answers 422 `invalid_part_numbers`;
    a completed or aborted upload 409, an expired one 410.
    """
    return await UploadService(uow, settings, storage, clock).presign_parts(principal.team, body)


@router.post(
    "/complete",
    response_model=MultipartCompleted,
    operation_id="uploads_multipart_complete",
    responses=errors(404, 409, 410, 503),
)
async def complete(
    body: MultipartComplete,
    principal: MultipartCaller,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartCompleted:
    """Assemble the parts into the file at `file_key`, which runs then accept like any upload.

    Every part 1..part_count must be listed with the ETag its PUT returned and be stored
    (else 422 `parts_missing` naming them, or `etag_mismatch`). When the stored file would not
    have exactly the declared `file_size`, this answers 422 `size_mismatch` and nothing is kept.
    An upload completed already answers 409 `upload_completed`; an object is never overwritten.
    """
    outcome = await UploadService(uow, settings, storage, clock).complete(principal.team, body)
    return outcome


@router.post(
    "/abort",
    response_model=AbortResult,
    operation_id="uploads_multipart_abort",
    responses=errors(404, 409, 503),
)
async def abort(
    body: MultipartAbort,
    principal: MultipartCaller,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> AbortResult:
    """Abort the upload and drop the parts stored so far. Aborting an aborted or expired upload
    succeeds again; a completed one answers 409 `upload_completed`."""
    return await UploadService(uow, settings, storage, clock).abort(principal.team, body)


@router.get(
    "/{upload_id}",
    response_model=MultipartRead,
    operation_id="uploads_multipart_read",
    responses=errors(404, 503),
)
async def read(
    upload_id: Annotated[str, Path(max_length=64, description="The upload_id from initiate.")],
    principal: MultipartCaller,
    uow: UnitDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> MultipartRead:
    """The upload's state and, while it is open, the parts the store holds (`parts_received`
    with their sizes and ETags): to resume, presign and PUT only the others, then complete."""
    return await UploadService(uow, settings, storage, clock).read(principal.team, upload_id)
