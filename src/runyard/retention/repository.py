from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from runyard.db.repository import Repository
from runyard.models import MultipartUpload, RefreshToken, StoredFile

BATCH = 500


class RetentionRepository(Repository):
    async def lock(self) -> bool:
        """One sweeper at a time across server processes (PostgreSQL advisory lock)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        got = await self.session.scalar(select(func.pg_try_advisory_xact_lock(7_470_001)))
        return bool(got)

    async def expired_files(self, now: datetime) -> list[StoredFile]:
        return list(
            await self.session.scalars(
                select(StoredFile)
                .where(StoredFile.expires_at <= now, StoredFile.file_status != "expired")
                .limit(BATCH)
            )
        )

    async def expired_uploads(self, now: datetime) -> list[MultipartUpload]:
        return list(
            await self.session.scalars(
                select(MultipartUpload)
                .where(MultipartUpload.upload_status == "open", MultipartUpload.expires_at <= now)
                .limit(BATCH)
            )
        )

    async def prune(self, *, now: datetime, uploads_before: datetime) -> None:
        await self.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
        await self.session.execute(
            delete(MultipartUpload).where(
                MultipartUpload.upload_status != "open", MultipartUpload.created_at < uploads_before
            )
        )

    async def mark_uploads_expired(self, ids: list[str]) -> None:
        await self.session.execute(
            update(MultipartUpload)
            .where(MultipartUpload.id.in_(ids), MultipartUpload.upload_status == "open")
            .values(upload_status="expired")
        )
