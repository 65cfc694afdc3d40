"""Rate limits (429 + ``Retry-After``) on login, presign, run and agent gateway connects.

Built on the ``limits`` library (fixed windows). Where the counters live is a trade-off:

- login and agent connects are rare and are what an attacker guesses against, so their counters
  are shared by every server process: in the database (``rate_limit_counters``, one upsert per
  counted attempt) or in Redis when ``RUNYARD_RATE_LIMIT_STORAGE_URL`` names one;
- presign and run are the hot path (presign is benchmarked): their counters live in each
  process's memory, so they cost no round trip; with N processes the effective budget is N times
  the setting. With a Redis URL configured they are shared too (one Redis round trip).

Login never lets an attacker lock the real user out: failed passwords count per address *and*
account (an attacker guessing from elsewhere exhausts only their own bucket), plus a coarser
per-address ceiling on every attempt.
"""

from runyard.ratelimit.limiter import RateLimiter, build_rate_limiter, client_address

__all__ = ["RateLimiter", "build_rate_limiter", "client_address"]
