from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from runyard.db.repository import Repository
from runyard.models import (
    IdempotencyKey,
    MultipartUpload,
    RefreshToken,
    StoredFile,
    Task,
    TaskEvent,
    TaskOutput,
)

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

    async def expired_outputs(self, now: datetime) -> list[TaskOutput]:
        return list(
            await self.session.scalars(
                select(TaskOutput)
                .where(TaskOutput.output_status == "final", TaskOutput.expires_at <= now)
                .limit(BATCH)
            )
        )

    async def stray_outputs(self, before: datetime) -> list[TaskOutput]:
        """Output slots of attempts that never completed (dead agents' uploads)."""
        return list(
            await self.session.scalars(
                select(TaskOutput)
                .join(Task, Task.id == TaskOutput.task_id)
                .where(
                    TaskOutput.output_status == "granted",
                    TaskOutput.created_at <= before,
                    (Task.attempt != TaskOutput.attempt)
                    | Task.task_status.in_(("completed", "failed", "cancelled")),
                )
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

    async def prune(
        self,
        *,
        events_before: datetime,
        idempotency_before: datetime,
        now: datetime,
        uploads_before: datetime,
    ) -> None:
        finished = select(Task.id).where(Task.task_status.in_(("completed", "failed", "cancelled")))
        await self.session.execute(
            delete(TaskEvent).where(
                TaskEvent.created_at < events_before, TaskEvent.task_id.in_(finished)
            )
        )
        await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < idempotency_before)
        )
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

    async def mark_outputs(self, ids: list[str], status: str) -> None:
        if ids:
            await self.session.execute(
                update(TaskOutput).where(TaskOutput.id.in_(ids)).values(output_status=status)
            )
