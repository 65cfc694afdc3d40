"""The limiter on in-process counters (``memory://``): per-bucket refusals with a wait, and no
global reset however many keys an attacker makes it track."""

from __future__ import annotations

import pytest

from runyard.errors import TooManyRequests
from runyard.ratelimit.limiter import RateLimiter, build_rate_limiter
from runyard.settings import LimitSettings, RateLimitSettings, Settings


def limiter(**rates: str) -> RateLimiter:
    settings = Settings(
        environment="test",
        secret_key="x" * 40,
        limits=LimitSettings(login_attempts_per_minute=3),
        rate_limit=RateLimitSettings(storage_url="memory://", **rates),
    )
    return build_rate_limiter(settings, None)  # type: ignore[arg-type]  # memory needs no db


async def test_an_exhausted_bucket_survives_100_000_other_keys() -> None:
    rl = limiter(presign="1/minute", presign_per_address="1000000/minute")
    await rl.presign_file("198.51.100.1", "key:victim")
    for i in range(100_001):
        await rl.presign_file(f"addr-{i}", f"key:{i}")
    with pytest.raises(TooManyRequests) as refused:
        await rl.presign_file("198.51.100.1", "key:victim")
    assert refused.value.headers is not None
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60


async def test_failed_logins_lock_only_that_address_and_account() -> None:
    rl = limiter()
    for _ in range(3):
        await rl.before_login("198.51.100.7", "Alice@Example.com")
        await rl.login_failed("198.51.100.7", "alice@example.com")
    with pytest.raises(TooManyRequests):
        await rl.before_login("198.51.100.7", "alice@example.com")
    await rl.before_login("203.0.113.5", "alice@example.com")  # the user, elsewhere
    await rl.before_login("198.51.100.7", "bob@example.com")  # another account


async def test_successful_logins_do_not_count_as_failures() -> None:
    rl = limiter()
    for _ in range(10):
        await rl.before_login("203.0.113.5", "alice@example.com")


async def test_disabled_limits_never_refuse() -> None:
    rl = limiter(presign="1/minute", enabled="false")
    for _ in range(5):
        await rl.presign_file("a", "key:k")
