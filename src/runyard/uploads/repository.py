from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from runyard.db.repository import Repository
from runyard.models import MultipartUpload


class UploadRepository(Repository):
    async def get(
        self, team_id: str, upload_id: str, *, fresh: bool = False
    ) -> MultipartUpload | None:
        """The team's upload; another team's id reads as unknown. ``fresh`` re-reads a row this
        session loaded before (another request may have settled it since)."""
        query = select(MultipartUpload).where(
            MultipartUpload.id == upload_id, MultipartUpload.team_id == team_id
        )
        if fresh:
            query = query.execution_options(populate_existing=True)
        return (await self.session.scalars(query)).first()

    async def settle(self, upload_id: str, status: str, now: datetime) -> bool:
        """Move an open upload to ``status``; False when another request settled it first (the
        condition on the current status makes racing completes and aborts win once, without
        holding a lock across the store's calls)."""
        values: dict[str, object] = {"upload_status": status}
        if status == "completed":
            values["completed_at"] = now
        result = await self.session.execute(
            update(MultipartUpload)
            .where(MultipartUpload.id == upload_id, MultipartUpload.upload_status == "open")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def count_open(self, team_id: str, now: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(MultipartUpload)
            .where(
                MultipartUpload.team_id == team_id,
                MultipartUpload.upload_status == "open",
                MultipartUpload.expires_at > now,
            )
        )
        return int(count or 0)
