"""The rules of multipart uploads. Never commits: the routes do.

Calls to the store happen here, in the order that keeps a failure recoverable: ``initiate``
creates the backend upload before the row exists (the route aborts it again if the commit fails),
``abort`` aborts on the backend before marking the row (a store failure leaves it open, so the
client or the sweeper can retry). ``complete`` answers some refusals that must still be committed
(the upload became ``aborted``/``expired``) by *returning* the error, for the route to commit
and then raise.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from datetime import timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.errors import (
    Conflict,
    Gone,
    NotFound,
    NotReady,
    RunyardError,
    TooManyRequests,
    Unprocessable,
)
from runyard.files.naming import input_key, safe_file_name
from runyard.files.repository import FileRepository
from runyard.files.service import FileService
from runyard.models import MultipartUpload, StoredFile
from runyard.settings import MIB, Settings
from runyard.storage.base import (
    CompletedPart,
    InvalidParts,
    ObjectExists,
    PartInfo,
    Storage,
    StorageError,
    UploadNotFound,
)
from runyard.uploads.repository import UploadRepository
from runyard.uploads.schemas import (
    MAX_PARTS,
    AbortResult,
    CompletedPartIn,
    MultipartAbort,
    MultipartComplete,
    MultipartCompleted,
    MultipartInitiate,
    MultipartRead,
    PartsPresign,
    PartsPresigned,
    PresignedPart,
    ReceivedPart,
    UploadStatus,
)

STATUS_PATH = "GET /api/v1/uploads/multipart/{upload_id}"


def _numbers(numbers: Iterable[int]) -> str:
    listed = sorted(numbers)
    shown = ", ".join(str(n) for n in listed[:20])
    return shown + (f" and {len(listed) - 20} more" if len(listed) > 20 else "")


def _etag(value: str) -> str:
    return value.strip().strip('"')


def storage_failed(exc: StorageError) -> NotReady:
    return NotReady(
        f"The object store did not answer as expected ({exc}); retry in a moment.",
        code="storage_unavailable",
    )


def plan_parts(file_size: int, part_size: int) -> tuple[int, int]:
    """(part size, part count) for a file: the configured part size, grown in whole MiB when the
    file would otherwise need more than S3's 10,000 parts."""
    if math.ceil(file_size / part_size) > MAX_PARTS:
        part_size = math.ceil(file_size / MAX_PARTS / MIB) * MIB
    return part_size, max(1, math.ceil(file_size / part_size))


def part_length(upload: MultipartUpload, part_number: int) -> int:
    """The exact size of one part: ``part_size`` for all but the last, the rest for the last."""
    if part_number < upload.part_count:
        return upload.part_size
    return upload.file_size - (upload.part_count - 1) * upload.part_size


class UploadService:
    def __init__(
        self, session: AsyncSession, settings: Settings, storage: Storage, clock: Clock
    ) -> None:
        self.repo = UploadRepository(session)
        self.files = FileRepository(session)
        self.file_rules = FileService(session, settings, storage, clock)
        self.settings = settings
        self.storage = storage
        self.clock = clock

    # initiate ------------------------------------------------------------------------------
    async def initiate(
        self, team_id: str, user_id: str | None, body: MultipartInitiate
    ) -> MultipartUpload:
        limits = self.settings.limits
        content_type = self.file_rules.check_declared(
            body.file_name,
            body.file_size,
            body.content_type,
            limits.multipart_max,
            multipart=True,
        )
        now = self.clock.now()
        if await self.repo.count_open(team_id, now) >= limits.open_uploads_per_team:
            raise TooManyRequests(
                f"The team has {limits.open_uploads_per_team} unfinished multipart uploads, the "
                "limit: complete or abort one (POST /api/v1/uploads/multipart/abort) first.",
                code="too_many_open_uploads",
            )
        await self._check_quota(team_id, body.file_size)
        part_size, part_count = plan_parts(body.file_size, limits.part_size)
        upload_id = new_id()
        key = input_key(team_id, upload_id, body.file_name)
        try:
            backend_id = await self.storage.create_multipart(key, content_type)
        except StorageError as exc:
            raise storage_failed(exc) from exc
        upload = MultipartUpload(
            id=upload_id,
            team_id=team_id,
            user_id=user_id,
            file_key=key,
            backend_upload_id=backend_id,
            file_name=safe_file_name(body.file_name),
            content_type=content_type,
            file_size=body.file_size,
            part_size=part_size,
            part_count=part_count,
            upload_status="open",
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.retention.multipart),
        )
        self.repo.add(upload)
        return upload

    async def _check_quota(self, team_id: str, file_size: int) -> None:
        """The same rolling-day byte budget as ``/r/files/presign`` (code and all)."""
        limit = self.settings.limits.bytes_presigned_per_day
        since = self.clock.now() - timedelta(days=1)
        used = await self.files.bytes_since(team_id, since)
        if used + file_size > limit:
            raise TooManyRequests(
                f"The team presigned {used} bytes in the last 24 h; the limit is {limit}.",
                code="upload_quota_exceeded",
            )

    async def discard(self, upload: MultipartUpload) -> None:
        """Undo ``initiate`` on the store when its row could not be committed."""
        # Should this fail too, the store's own rules (S3 lifecycle) abort it after a day.
        with contextlib.suppress(StorageError):
            await self.storage.abort_multipart(upload.file_key, upload.backend_upload_id)

    # shared checks -------------------------------------------------------------------------
    async def load(
        self,
        team_id: str,
        upload_id: str,
        file_key: str | None = None,
        *,
        for_update: bool = False,
    ) -> MultipartUpload:
        upload = await self.repo.get(team_id, upload_id, for_update=for_update)
        # A file_key of another upload answers like an unknown id: it reveals nothing.
        if upload is None or (file_key is not None and upload.file_key != file_key):
            raise NotFound(
                "No multipart upload with this upload_id and file_key in this team; start one "
                "with POST /api/v1/uploads/multipart/initiate.",
                code="upload_not_found",
            )
        return upload

    def status_of(self, upload: MultipartUpload) -> UploadStatus:
        """The status as clients should see it: an open upload past its expiry is expired even
        before the sweeper marks it."""
        if upload.upload_status == "open" and upload.expires_at <= self.clock.now():
            return "expired"
        return cast(UploadStatus, upload.upload_status)

    def require_open(self, upload: MultipartUpload) -> None:
        status = self.status_of(upload)
        if status == "completed":
            raise Conflict(
                f"This upload is already completed; use its file_key {upload.file_key!r}.",
                code="upload_completed",
            )
        if status == "aborted":
            raise Conflict(
                "This upload was aborted; start a new one with POST "
                "/api/v1/uploads/multipart/initiate.",
                code="upload_aborted",
            )
        if status == "expired":
            raise Gone(
                "This upload expired (unfinished uploads are kept 1 day); start a new one.",
                code="upload_expired",
            )

    # presign-parts -------------------------------------------------------------------------
    async def presign_parts(self, team_id: str, body: PartsPresign) -> PartsPresigned:
        upload = await self.load(team_id, body.upload_id, body.file_key)
        self.require_open(upload)
        unknown = {n for n in body.part_numbers if not 1 <= n <= upload.part_count}
        if unknown:
            raise Unprocessable(
                f"This upload has parts 1..{upload.part_count}; there is no part "
                f"{_numbers(unknown)}.",
                code="invalid_part_numbers",
            )
        ttl = self.settings.limits.upload_url_ttl
        parts = []
        for number in dict.fromkeys(body.part_numbers):  # once each, in the order asked
            signed = self.storage.presign_part(
                upload.file_key,
                upload.backend_upload_id,
                number,
                part_length(upload, number),
                expires_in=ttl,
            )
            parts.append(
                PresignedPart(
                    part_number=number,
                    upload_url=signed.url,
                    upload_headers=dict(signed.headers),
                )
            )
        return PartsPresigned(parts=parts, expires_at=self.clock.now() + timedelta(seconds=ttl))

    # complete ------------------------------------------------------------------------------
    async def complete(self, team_id: str, body: MultipartComplete) -> MultipartCompleted:
        """The completed file. Refusals that changed the upload's state (expired, aborted) are
        raised with ``commit_first``: the new state is kept, then the request is refused."""
        upload = await self.load(team_id, body.upload_id, body.file_key, for_update=True)
        self.require_open(upload)
        listed = self._listed(upload, body.parts)
        try:
            stored = {p.part_number: p for p in await self._stored_parts(upload)}
        except UploadNotFound:
            raise await self._lost(upload) from None
        everything = range(1, upload.part_count + 1)
        missing = [n for n in everything if n not in listed or n not in stored]
        if missing:
            not_stored = [n for n in missing if n not in stored]
            raise Unprocessable(
                f"Missing part{'s' if len(missing) > 1 else ''} {_numbers(missing)} "
                + (f"(not uploaded: {_numbers(not_stored)}); " if not_stored else "from the list; ")
                + f"this upload needs parts 1..{upload.part_count}. {STATUS_PATH} shows what "
                "the store holds; presign and PUT the others, then complete again.",
                code="parts_missing",
            )
        stale = [n for n in everything if _etag(listed[n]) != _etag(stored[n].etag)]
        if stale:
            raise Unprocessable(
                f"The ETags given for parts {_numbers(stale)} are not those of the stored parts "
                f"(sent again?); {STATUS_PATH} lists the current ETags.",
                code="etag_mismatch",
            )
        wrong = [n for n in everything if stored[n].size != part_length(upload, n)]
        if wrong:
            await self._abort_backend(upload)
            upload.upload_status = "aborted"
            raise self._size_mismatch(
                upload, f"parts {_numbers(wrong)} do not have the planned sizes"
            )
        parts = [CompletedPart(n, listed[n]) for n in everything]
        try:
            await self.storage.complete_multipart(upload.file_key, upload.backend_upload_id, parts)
        except ObjectExists:
            raise Conflict(
                "An object already exists at this file_key; nothing was overwritten.",
                code="object_exists",
            ) from None
        except UploadNotFound:
            raise await self._lost(upload) from None
        except InvalidParts as exc:
            raise Unprocessable(
                f"The store refused the parts: {exc}.", code="invalid_parts"
            ) from exc
        except StorageError as exc:
            raise storage_failed(exc) from exc
        return await self._finish(upload)

    def _listed(self, upload: MultipartUpload, parts: list[CompletedPartIn]) -> dict[int, str]:
        numbers = [p.part_number for p in parts]
        unknown = {n for n in numbers if not 1 <= n <= upload.part_count}
        if unknown:
            raise Unprocessable(
                f"This upload has parts 1..{upload.part_count}; there is no part "
                f"{_numbers(unknown)}.",
                code="invalid_part_numbers",
            )
        if len(set(numbers)) != len(numbers):
            twice = {n for n in numbers if numbers.count(n) > 1}
            raise Unprocessable(
                f"Listed more than once: parts {_numbers(twice)}; list each part once.",
                code="invalid_part_numbers",
            )
        return {p.part_number: p.etag for p in parts}

    async def _stored_parts(self, upload: MultipartUpload) -> list[PartInfo]:
        try:
            return await self.storage.list_parts(upload.file_key, upload.backend_upload_id)
        except UploadNotFound:
            raise
        except StorageError as exc:
            raise storage_failed(exc) from exc

    async def _abort_backend(self, upload: MultipartUpload) -> None:
        try:
            await self.storage.abort_multipart(upload.file_key, upload.backend_upload_id)
        except StorageError as exc:
            raise storage_failed(exc) from exc

    async def _lost(self, upload: MultipartUpload) -> RunyardError:
        """The store no longer knows the upload: completed by a racing request, or expired."""
        try:
            info = await self.storage.head(upload.file_key)
        except StorageError as exc:
            raise storage_failed(exc) from exc
        if info is not None:
            return Conflict(
                "This upload was completed by another request; use its file_key.",
                code="upload_completed",
            )
        upload.upload_status = "expired"
        return Gone(
            "The store no longer holds this upload (expired or aborted); start a new one.",
            code="upload_expired",
            commit_first=True,
        )

    def _size_mismatch(self, upload: MultipartUpload, detail: str) -> RunyardError:
        return Unprocessable(
            f"The upload does not have the declared file_size of {upload.file_size} bytes "
            f"({detail}); nothing was kept. Start a new upload with the file's real size.",
            code="size_mismatch",
            commit_first=True,
        )

    async def _finish(self, upload: MultipartUpload) -> MultipartCompleted:
        try:
            info = await self.storage.head(upload.file_key)
            if info is None or info.size != upload.file_size:
                await self.storage.delete(upload.file_key)
                upload.upload_status = "aborted"
                got = "no object" if info is None else f"{info.size} bytes"
                raise self._size_mismatch(upload, f"the store holds {got}")
        except StorageError as exc:
            raise storage_failed(exc) from exc
        now = self.clock.now()
        upload.upload_status = "completed"
        upload.completed_at = now
        self.files.add(
            StoredFile(
                id=upload.id,
                team_id=upload.team_id,
                file_key=upload.file_key,
                file_name=upload.file_name,
                content_type=upload.content_type,
                file_size=upload.file_size,
                file_status="uploaded",
                source="multipart",
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.retention.inputs),
            )
        )
        return MultipartCompleted(file_key=upload.file_key, file_size=upload.file_size)

    # abort ---------------------------------------------------------------------------------
    async def abort(self, team_id: str, body: MultipartAbort) -> AbortResult:
        upload = await self.load(team_id, body.upload_id, body.file_key, for_update=True)
        if upload.upload_status == "completed":
            raise Conflict(
                "This upload is completed; its file is kept until the input retention ends.",
                code="upload_completed",
            )
        if upload.upload_status == "open":  # aborting twice (or after expiry) is a success
            await self._abort_backend(upload)
            upload.upload_status = "aborted"
        return AbortResult(is_success=True)

    # status --------------------------------------------------------------------------------
    async def read(self, team_id: str, upload_id: str) -> MultipartRead:
        upload = await self.load(team_id, upload_id)
        status = self.status_of(upload)
        received: list[ReceivedPart] = []
        if status == "open":
            try:
                received = [
                    ReceivedPart(part_number=p.part_number, size=p.size, etag=p.etag)
                    for p in await self._stored_parts(upload)
                ]
            except UploadNotFound:
                status = "expired"
        return MultipartRead(
            upload_id=upload.id,
            file_key=upload.file_key,
            upload_status=status,
            file_name=upload.file_name,
            content_type=upload.content_type,
            file_size=upload.file_size,
            part_size=upload.part_size,
            part_count=upload.part_count,
            parts_received=received,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            completed_at=upload.completed_at,
        )
