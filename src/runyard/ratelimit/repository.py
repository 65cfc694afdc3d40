"""The SQL of the shared fixed-window counters (PostgreSQL and SQLite, both with upsert)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from runyard.db.repository import Repository
from runyard.models import RateLimitCounter


class RateLimitRepository(Repository):
    async def incr(self, key: str, amount: int, now: float, expiry: float) -> int:
        """Add ``amount`` to the key's window (a fresh window once the old one expired); the
        new count. One statement, so concurrent processes never lose a hit."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = RateLimitCounter.__table__
        stmt = insert(table).values(key=key, hits=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((expired, amount), else_=table.c.hits + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.hits)
        hits = await self.session.scalar(stmt)
        return int(hits or 0)

    async def current(self, key: str, now: float) -> tuple[int, float]:
        """(hits, window end) of a live window; (0, now) when there is none."""
        row = (
            await self.session.execute(
                select(RateLimitCounter.hits, RateLimitCounter.expires_at).where(
                    RateLimitCounter.key == key, RateLimitCounter.expires_at > now
                )
            )
        ).first()
        return (int(row[0]), float(row[1])) if row else (0, now)

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))

    async def prune(self, now: float) -> int:
        result: Any = await self.session.execute(
            delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now)
        )
        return int(result.rowcount or 0)

    async def clear_all(self) -> int:
        result: Any = await self.session.execute(delete(RateLimitCounter))
        return int(result.rowcount or 0)
