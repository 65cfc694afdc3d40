from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import MultipartUpload


class UploadRepository(Repository):
    async def get(
        self, team_id: str, upload_id: str, *, for_update: bool = False
    ) -> MultipartUpload | None:
        """The team's upload; another team's id reads as unknown. ``for_update`` serialises
        complete/abort of one upload on PostgreSQL (SQLite serialises writers anyway)."""
        query = select(MultipartUpload).where(
            MultipartUpload.id == upload_id, MultipartUpload.team_id == team_id
        )
        if for_update:
            # Re-read under the lock: the row may have changed since this session loaded it.
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(query)).first()

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
