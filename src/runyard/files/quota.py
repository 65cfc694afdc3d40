"""The per-team bytes-per-day quota without a sum query on every presign: the rolling-day total
is read from the database at most every ``refresh`` seconds per team, and this process adds what
it presigns in between. Several server processes may each overshoot by what they presign within
one refresh; the quota is a guard against runaway scripts, not billing."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from runyard.providers import provider


class DailyUsage:
    def __init__(self, refresh: float = 30.0) -> None:
        self.refresh = refresh
        self._cache: dict[str, tuple[float, int]] = {}

    async def used(self, team_id: str, load: Callable[[], Awaitable[int]]) -> int:
        now = time.monotonic()
        cached = self._cache.get(team_id)
        if cached is None or now - cached[0] > self.refresh:
            cached = (now, await load())
            self._cache[team_id] = cached
        return cached[1]

    def add(self, team_id: str, size: int) -> None:
        cached = self._cache.get(team_id)
        if cached is not None:
            self._cache[team_id] = (cached[0], cached[1] + size)


UsageDep = Annotated[DailyUsage, Depends(provider("usage", DailyUsage))]
