from __future__ import annotations

from fastapi import APIRouter, Request

from runyard.api_docs import errors
from runyard.deps import (
    ClockDep,
    RateLimiterDep,
    RuntimeWriter,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from runyard.files.quota import UsageDep
from runyard.files.schemas import PresignRequest, PresignResponse
from runyard.files.service import FileService
from runyard.ratelimit import client_address

router = APIRouter(prefix="/r/files", tags=["files"])


@router.post(
    "/presign",
    response_model=PresignResponse,
    response_model_exclude_none=True,
    operation_id="files_presign",
    responses=errors(413, 429),
)
async def presign(
    body: PresignRequest,
    request: Request,
    principal: RuntimeWriter,
    limiter: RateLimiterDep,
    usage: UsageDep,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    clock: ClockDep,
) -> PresignResponse:
    """Step 1 of the seed: describe a file, get a `file_key` and a presigned PUT.

    PUT the body to `upload_url` with every header of `upload_headers` (they are signed); a PUT
    without them is refused with 403, and a second PUT to the same key answers 412. Inputs are kept
    1 day. Above the single-upload limit (524,288,000 bytes by default) this answers 413: use the
    multipart endpoints.

    With an optional `sha256`, the upload is signed with `x-amz-checksum-sha256` too (send it
    like the other headers) and the store refuses other bytes; when the team already holds an
    unexpired file with that sha256 and size, the answer is `already_uploaded: true` with that
    file's `file_key` and no `upload_url`: there is nothing to upload.
    """
    await limiter.presign_file(client_address(request.client), principal.rate_key)
    service = FileService(session, settings, storage, clock, usage)
    result = await service.presign(principal.team, body)
    return result
