from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from runyard.db.repository import Repository
from runyard.models import MultipartUpload, ObjectDeletion, RefreshToken, StoredFile

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

    async def open_uploads_of_team(self, team_id: str) -> list[MultipartUpload]:
        return list(
            await self.session.scalars(
                select(MultipartUpload).where(
                    MultipartUpload.team_id == team_id, MultipartUpload.upload_status == "open"
                )
            )
        )

    async def due_deletions(self, limit: int) -> list[ObjectDeletion]:
        return list(
            await self.session.scalars(
                select(ObjectDeletion).order_by(ObjectDeletion.created_at).limit(limit)
            )
        )

    async def finish_deletions(self, done: list[str], retried: list[str]) -> None:
        if done:
            await self.session.execute(delete(ObjectDeletion).where(ObjectDeletion.id.in_(done)))
        if retried:
            await self.session.execute(
                update(ObjectDeletion)
                .where(ObjectDeletion.id.in_(retried))
                .values(attempts=ObjectDeletion.attempts + 1)
            )
