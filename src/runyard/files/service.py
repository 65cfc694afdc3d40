"""Presigning the seed's single PUT. Never commits; the route does."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.clock import Clock, iso_z
from runyard.db.base import new_id
from runyard.errors import TooLarge, TooManyRequests, Unprocessable
from runyard.files.naming import (
    bundle_key,
    input_key,
    model_key,
    normalise_content_type,
    safe_file_name,
)
from runyard.files.quota import DailyUsage
from runyard.files.repository import FileRepository
from runyard.files.schemas import PresignRequest, PresignResponse
from runyard.models import StoredFile
from runyard.settings import Settings
from runyard.storage.base import Storage, StorageError

_PREFIXES = {"model": "models/", "bundle": "bundles/"}
_KEYS = {"model": model_key, "bundle": bundle_key}


class FileService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        usage: DailyUsage | None = None,
    ) -> None:
        self.session = session
        self.repo = FileRepository(session)
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.usage = usage

    def check_declared(
        self, file_name: str, file_size: int, content_type: str, limit: int, *, multipart: bool
    ) -> str:
        """Validate a declared upload; returns the normalised content type."""
        if file_size < 1:
            raise Unprocessable("file_size must be at least 1 byte.", code="invalid_file_size")
        if file_size > limit:
            hint = (
                "Use multipart upload (POST /api/v1/uploads/multipart/initiate) with a session "
                "token for larger files."
                if not multipart
                else "This is the multipart limit."
            )
            raise TooLarge(
                f"file_size {file_size} exceeds the limit of {limit} bytes. {hint}",
                code="file_too_large",
            )
        if not safe_file_name(file_name) or file_name.strip() in ("", ".", ".."):
            raise Unprocessable(
                "file_name has no usable characters; send the file's name, e.g. photo.png.",
                code="invalid_file_name",
            )
        ct = normalise_content_type(content_type)
        if ct is None:
            raise Unprocessable(
                f"content_type {content_type!r} is not a MIME type like image/png.",
                code="invalid_content_type",
            )
        return ct

    async def check_daily_quota(self, team_id: str, file_size: int) -> None:
        limit = self.settings.limits.bytes_presigned_per_day

        async def load() -> int:
            return await self.repo.bytes_since(team_id, self.clock.now() - timedelta(days=1))

        used = await (self.usage.used(team_id, load) if self.usage else load())
        if used + file_size > limit:
            raise TooManyRequests(
                f"The team presigned {used} bytes in the last 24 h; the limit is {limit}.",
                code="upload_quota_exceeded",
            )
        if self.usage is not None:
            self.usage.add(team_id, file_size)

    async def held(
        self, team_id: str, sha256: str, file_size: int, *, prefix: str | None = None
    ) -> StoredFile | None:
        """An unexpired file of the team with these bytes, seen in the store (one upload, not
        two); a pending one found in the store is marked uploaded. ``prefix``: only keys under it
        (``models/``, ``bundles/``: an input's key expires with the bucket's lifecycle)."""
        rows = await self.repo.by_content(team_id, sha256, file_size, self.clock.now())
        if prefix is not None:
            rows = [row for row in rows if row.file_key.startswith(prefix)]
        for row in rows:
            if row.file_status == "uploaded":
                return row
        if rows:
            # The PUT went straight to the store: ask it, with no connection checked out.
            await self.session.commit()
        for row in rows:
            try:
                info = await self.storage.head(row.file_key)
            except StorageError:
                return None  # the store is unwell: upload again rather than fail the presign
            if info is not None and info.size == file_size:
                row.file_status = "uploaded"  # the signed sha256 made the store refuse others
                return row
        return None

    async def presign(
        self, team_id: str, body: PresignRequest, *, source: str = "presign"
    ) -> PresignResponse:
        """``source="model"``: a model library upload (``models/`` key, see ``model_key``);
        ``"bundle"``: a workflow's deployed code (``bundles/``)."""
        limits = self.settings.limits
        ct = self.check_declared(
            body.file_name,
            body.file_size,
            body.content_type,
            limits.single_upload_max,
            multipart=False,
        )
        if body.sha256 is not None:
            existing = await self.held(
                team_id, body.sha256, body.file_size, prefix=_PREFIXES.get(source)
            )
            if existing is not None:
                return PresignResponse(
                    file_key=existing.file_key,
                    expires_at=iso_z(existing.expires_at),
                    already_uploaded=True,
                )
        await self.check_daily_quota(team_id, body.file_size)
        now = self.clock.now()
        upload_id = new_id()
        key = _KEYS.get(source, input_key)(team_id, upload_id, body.file_name)
        self.repo.add(
            StoredFile(
                id=upload_id,
                team_id=team_id,
                file_key=key,
                file_name=safe_file_name(body.file_name),
                content_type=ct,
                file_size=body.file_size,
                file_status="pending",
                source=source,
                sha256=body.sha256,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.retention.inputs),
            )
        )
        signed = self.storage.presign_put(
            key, body.file_size, expires_in=limits.upload_url_ttl, sha256=body.sha256
        )
        return PresignResponse(
            file_key=key,
            upload_url=signed.url,
            upload_headers=dict(signed.headers),
            expires_at=iso_z(now + timedelta(seconds=limits.upload_url_ttl)),
            already_uploaded=False if body.sha256 is not None else None,
        )
