"""A sliding-window limiter for login attempts, per client address and per account."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, *keys: str) -> float | None:
        """Record an attempt; returns seconds to wait when any key is over the limit."""
        now = time.monotonic()
        wait: float | None = None
        for key in keys:
            q = self._hits[key]
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.limit:
                wait = max(wait or 0.0, self.window - (now - q[0]))
        if wait is None:
            for key in keys:
                self._hits[key].append(now)
        if len(self._hits) > 100_000:
            self._hits.clear()
        return wait
