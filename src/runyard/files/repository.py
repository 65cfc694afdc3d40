from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import MultipartUpload, StoredFile


class FileRepository(Repository):
    async def by_keys(self, team_id: str, keys: list[str]) -> dict[str, StoredFile]:
        if not keys:
            return {}
        rows = await self.session.scalars(
            select(StoredFile).where(StoredFile.team_id == team_id, StoredFile.file_key.in_(keys))
        )
        return {f.file_key: f for f in rows}

    async def by_content(
        self, team_id: str, sha256: str, file_size: int, now: datetime
    ) -> list[StoredFile]:
        """The team's unexpired files declared with this sha256 and size, newest first."""
        rows = await self.session.scalars(
            select(StoredFile)
            .where(
                StoredFile.team_id == team_id,
                StoredFile.sha256 == sha256,
                StoredFile.file_size == file_size,
                StoredFile.expires_at > now,
            )
            .order_by(StoredFile.created_at.desc())
            .limit(5)
        )
        return list(rows)

    async def bytes_since(self, team_id: str, since: datetime) -> int:
        """Bytes the team declared for upload since ``since``: every file record, plus multipart
        uploads that did not become files (a completed one is counted through its file)."""
        files = await self.session.scalar(
            select(func.coalesce(func.sum(StoredFile.file_size), 0)).where(
                StoredFile.team_id == team_id, StoredFile.created_at >= since
            )
        )
        unfinished = await self.session.scalar(
            select(func.coalesce(func.sum(MultipartUpload.file_size), 0)).where(
                MultipartUpload.team_id == team_id,
                MultipartUpload.created_at >= since,
                MultipartUpload.upload_status != "completed",
            )
        )
        return int(files or 0) + int(unfinished or 0)
