"""A ``limits`` storage backend on our database, so login and connect counters are shared by
every server process without another service to run."""

from __future__ import annotations

import time
from typing import Any

from limits.aio.storage import Storage
from sqlalchemy.exc import SQLAlchemyError

from runyard.db.engine import Database
from runyard.ratelimit.repository import RateLimitRepository

PRUNE_EVERY = 300.0  # seconds between deletions of expired windows


class DatabaseStorage(Storage):
    """Fixed-window counters in ``rate_limit_counters`` (each call its own short transaction)."""

    STORAGE_SCHEME = ["runyard+database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        db = options.get("database")
        if not isinstance(db, Database):
            raise ValueError("DatabaseStorage needs database=<runyard Database>")
        self.db = db
        self._pruned = time.time()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        async with self.db.session() as session:
            repo = RateLimitRepository(session)
            hits = await repo.incr(key, amount, now, float(expiry))
            if now - self._pruned > PRUNE_EVERY:
                self._pruned = now
                await repo.prune(now)
            await session.commit()
        return hits

    async def get(self, key: str) -> int:
        async with self.db.session() as session:
            hits, _ = await RateLimitRepository(session).current(key, time.time())
        return hits

    async def get_expiry(self, key: str) -> float:
        async with self.db.session() as session:
            _, expires = await RateLimitRepository(session).current(key, time.time())
        return expires

    async def check(self) -> bool:
        try:
            await self.get("runyard/health")
        except SQLAlchemyError:
            return False
        return True

    async def reset(self) -> int | None:
        async with self.db.session() as session:
            count = await RateLimitRepository(session).clear_all()
            await session.commit()
        return count

    async def clear(self, key: str) -> None:
        async with self.db.session() as session:
            await RateLimitRepository(session).clear(key)
            await session.commit()
