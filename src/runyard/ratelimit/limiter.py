"""The limiter the endpoints call: one method per guarded action, each raising 429 with
``Retry-After`` when a bucket is empty. Identifiers are hashed, so keys stay short and no email
address or key ends up in the counters table."""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from runyard.db.engine import Database
from runyard.errors import TooManyRequests
from runyard.ratelimit.store import DatabaseStorage
from runyard.settings import Settings


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, settings: Settings, shared: Storage, local: Storage) -> None:
        rates = settings.rate_limit
        self.enabled = rates.enabled
        self.shared = FixedWindowRateLimiter(shared)
        self.local = FixedWindowRateLimiter(local)
        self.login_failures: RateLimitItem = RateLimitItemPerMinute(
            max(1, settings.limits.login_attempts_per_minute)
        )
        self.login_per_address = parse(rates.login_per_address)
        self.presign = parse(rates.presign)
        self.presign_per_address = parse(rates.presign_per_address)
        self.run = parse(rates.run)
        self.run_per_address = parse(rates.run_per_address)
        self.agent_connects = parse(rates.agent_connects)
        self.agent_connects_per_address = parse(rates.agent_connects_per_address)
        self.pair_start = parse(rates.pair_start_per_address)
        self.pair_poll = parse(rates.pair_poll_per_address)
        self.pair_confirm = parse(rates.pair_confirm)
        self.accept = parse(rates.invitation_accept_per_address)

    async def before_login(self, address: str, account: str) -> None:
        """Every attempt counts against its address; failed ones of this address and account
        are only checked here (counted by ``login_failed``)."""
        if not self.enabled:
            return
        await self._hit(self.shared, self.login_per_address, "login-address", address)
        pair = _digest(address, account.strip().lower())
        if not await self.shared.test(self.login_failures, "login-failures", pair):
            await self._refuse(self.shared, self.login_failures, "login-failures", pair)

    async def login_failed(self, address: str, account: str) -> None:
        if self.enabled:
            pair = _digest(address, account.strip().lower())
            await self.shared.hit(self.login_failures, "login-failures", pair)

    async def agent_connect(self, address: str, token: str) -> None:
        if not self.enabled:
            return
        await self._hit(
            self.shared, self.agent_connects_per_address, "connect-address", _digest(address)
        )
        await self._hit(self.shared, self.agent_connects, "connect-key", _digest(token))

    async def pairing_started(self, address: str) -> None:
        """Device pairings are unauthenticated: counted per address, shared by every process."""
        if self.enabled:
            await self._hit(self.shared, self.pair_start, "pair-start", _digest(address))

    async def pairing_polled(self, address: str) -> None:
        if self.enabled:
            await self._hit(self.shared, self.pair_poll, "pair-poll", _digest(address))

    async def pairing_confirmed(self, user_id: str) -> None:
        """Confirms and denials per signed-in user, so user codes cannot be guessed in bulk."""
        if self.enabled:
            await self._hit(self.shared, self.pair_confirm, "pair-confirm", _digest(user_id))

    async def account_created_or_joined(self, address: str) -> None:
        """Invitation accepts and signups are unauthenticated or guess tokens: counted per
        address, shared by every process."""
        if self.enabled:
            await self._hit(self.shared, self.accept, "invitation-accept", _digest(address))

    async def presign_file(self, address: str, credential: str) -> None:
        if self.enabled:
            await self._hit(self.local, self.presign_per_address, "presign-address", address)
            await self._hit(self.local, self.presign, "presign", credential)

    async def submit_run(self, address: str, credential: str) -> None:
        if self.enabled:
            await self._hit(self.local, self.run_per_address, "run-address", address)
            await self._hit(self.local, self.run, "run", credential)

    async def _hit(
        self, limiter: FixedWindowRateLimiter, item: RateLimitItem, kind: str, ident: str
    ) -> None:
        if not await limiter.hit(item, kind, ident):
            await self._refuse(limiter, item, kind, ident)

    async def _refuse(
        self, limiter: FixedWindowRateLimiter, item: RateLimitItem, kind: str, ident: str
    ) -> None:
        stats = await limiter.get_window_stats(item, kind, ident)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"Too many requests ({item.amount} per {item.get_expiry()} s); retry in {wait} s.",
            code="rate_limited",
            headers={"Retry-After": str(wait)},
        )


def client_address(client: object | None) -> str:
    """The peer address (uvicorn has already replaced it with X-Forwarded-For's when the peer
    is a trusted proxy)."""
    host = getattr(client, "host", None)
    return str(host) if host else "unknown"


def build_rate_limiter(settings: Settings, db: Database) -> RateLimiter:
    """Counters per ``RUNYARD_RATE_LIMIT_STORAGE_URL``: empty = shared ones in the database and
    hot-path ones in memory; ``memory://`` = all in this process; ``redis://…`` = all in Redis
    (needs the ``redis`` package)."""
    url = settings.rate_limit.storage_url.strip()
    if not url:
        return RateLimiter(settings, DatabaseStorage(database=db), MemoryStorage())
    if url.startswith(("memory:", "async+memory:")):
        return RateLimiter(settings, MemoryStorage(), MemoryStorage())
    shared = storage_from_string(url if url.startswith("async+") else f"async+{url}")
    assert isinstance(shared, Storage)
    return RateLimiter(settings, shared, shared)
