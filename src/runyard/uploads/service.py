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
from datetime import timedelta
from typing import cast

from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.db.unit import UnitOfWork
from runyard.errors import (
    Conflict,
    Gone,
    NotFound,
    RunyardError,
    TooManyRequests,
    Unprocessable,
)
from runyard.files.naming import input_key, model_key, safe_file_name
from runyard.files.repository import FileRepository
from runyard.files.service import FileService
from runyard.models import MultipartUpload, StoredFile
from runyard.settings import Settings
from runyard.storage.base import (
    Storage,
    StorageError,
    UploadNotFound,
)
from runyard.uploads.assembly import Assembly
from runyard.uploads.parts import _numbers, part_length, plan_parts, storage_failed
from runyard.uploads.repository import UploadRepository
from runyard.uploads.schemas import (
    AbortResult,
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


class UploadService:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        *,
        for_models: bool = False,
    ) -> None:
        """``for_models``: uploads of the model library (``models/`` keys, the model limit)."""
        self.for_models = for_models
        self.uow = uow
        self.repo = UploadRepository(uow.session)
        self.files = FileRepository(uow.session)
        self.file_rules = FileService(uow.session, settings, storage, clock)
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
            limits.model_max if self.for_models else limits.multipart_max,
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
        key = (model_key if self.for_models else input_key)(team_id, upload_id, body.file_name)
        await self._release()
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
            sha256=body.sha256,
            upload_status="open",
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.retention.multipart),
        )
        self.repo.add(upload)
        return upload

    async def _release(self) -> None:
        """End the transaction so no database connection is held across the store's calls
        (with SQLite one held connection would block every other request meanwhile)."""
        await self.uow.commit()

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
        fresh: bool = False,
    ) -> MultipartUpload:
        upload = await self.repo.get(team_id, upload_id, fresh=fresh)
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
        """The completed file. The store is asked with no connection held; the upload's row is
        then locked and changed only if it is still open (a racing complete or abort wins once).
        Refusals that changed the upload's state (expired, aborted) are raised with
        ``commit_first``: the new state is kept, then the request is refused."""
        upload = await self.load(team_id, body.upload_id, body.file_key)
        self.require_open(upload)
        listed = Assembly(self.storage).listed(upload, body.parts)
        await self._release()
        try:
            await Assembly(self.storage).assemble(upload, listed)
        except RunyardError as refusal:
            if refusal.commit_first:
                await self._settle(team_id, upload.id, self._state_after(refusal))
            raise
        return await self._finish(await self._settle(team_id, upload.id, "completing"))

    async def _settle(self, team_id: str, upload_id: str, state: str) -> MultipartUpload:
        """Record what the store now holds, if the upload is still open; 409/410 when a racing
        request settled it first."""
        target = "completed" if state == "completing" else state
        won = await self.repo.settle(upload_id, target, self.clock.now())
        upload = await self.load(team_id, upload_id, fresh=True)
        if not won:
            self.require_open(upload)
            raise Conflict("Another request settled this upload first.", code="conflict")
        return upload

    @staticmethod
    def _state_after(refusal: RunyardError) -> str:
        return "expired" if refusal.code == "upload_expired" else "aborted"

    async def _finish(self, upload: MultipartUpload) -> MultipartCompleted:
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
                source="model" if upload.file_key.startswith("models/") else "multipart",
                sha256=upload.sha256,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.retention.inputs),
            )
        )
        return MultipartCompleted(file_key=upload.file_key, file_size=upload.file_size)

    # abort ---------------------------------------------------------------------------------
    async def abort(self, team_id: str, body: MultipartAbort) -> AbortResult:
        upload = await self.load(team_id, body.upload_id, body.file_key)
        self._refuse_abort_if_completed(upload)
        if upload.upload_status == "open":  # aborting twice (or after expiry) is a success
            await self._release()
            await Assembly(self.storage).abort_backend(upload)
            if not await self.repo.settle(upload.id, "aborted", self.clock.now()):
                upload = await self.load(team_id, upload.id, fresh=True)
                self._refuse_abort_if_completed(upload)
        return AbortResult(is_success=True)

    @staticmethod
    def _refuse_abort_if_completed(upload: MultipartUpload) -> None:
        if upload.upload_status == "completed":
            raise Conflict(
                "This upload is completed; its file is kept until the input retention ends.",
                code="upload_completed",
            )

    # status --------------------------------------------------------------------------------
    async def read(self, team_id: str, upload_id: str) -> MultipartRead:
        upload = await self.load(team_id, upload_id)
        status = self.status_of(upload)
        received: list[ReceivedPart] = []
        if status == "open":
            await self._release()
            try:
                received = [
                    ReceivedPart(part_number=p.part_number, size=p.size, etag=p.etag)
                    for p in await Assembly(self.storage).stored_parts(upload)
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
