from __future__ import annotations

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import LibraryModel, NodePackage


class ModelRepository(Repository):
    async def get(self, team_id: str, model_id: str) -> LibraryModel | None:
        row = await self.session.get(LibraryModel, model_id)
        return row if row is not None and row.team_id == team_id else None

    async def at_path(self, team_id: str, model_type: str, model_path: str) -> LibraryModel | None:
        row: LibraryModel | None = await self.session.scalar(
            select(LibraryModel).where(
                LibraryModel.team_id == team_id,
                LibraryModel.model_type == model_type,
                LibraryModel.model_path == model_path,
            )
        )
        return row

    async def page(
        self, team_id: str, offset: int, limit: int, status: str | None, model_type: str | None
    ) -> tuple[list[LibraryModel], int]:
        where = [LibraryModel.team_id == team_id]
        if status is not None:
            where.append(LibraryModel.model_status == status)
        if model_type is not None:
            where.append(LibraryModel.model_type == model_type)
        total = await self.session.scalar(
            select(func.count()).select_from(LibraryModel).where(*where)
        )
        rows = await self.session.scalars(
            select(LibraryModel)
            .where(*where)
            .order_by(LibraryModel.model_type, LibraryModel.model_path)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def active(self, team_id: str) -> list[LibraryModel]:
        """The team's sync set: every active model."""
        rows = await self.session.scalars(
            select(LibraryModel)
            .where(LibraryModel.team_id == team_id, LibraryModel.model_status == "active")
            .order_by(LibraryModel.model_type, LibraryModel.model_path)
        )
        return list(rows)

    async def naming_file(self, team_id: str, file_key: str) -> int:
        """How many of the team's models and node packages name ``file_key`` (both keep their
        bytes in model uploads)."""
        total = 0
        for table in (LibraryModel, NodePackage):
            count = await self.session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.team_id == team_id, table.file_key == file_key)
            )
            total += int(count or 0)
        return total

    async def delete(self, row: LibraryModel) -> None:
        await self.session.delete(row)
