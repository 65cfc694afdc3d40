"""The base of every domain repository: the session it queries, plus adding and flushing rows.
Repositories build all SQL; none of them commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.db.base import Base


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Base) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()
