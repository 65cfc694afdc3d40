"""Credential rechecks of open event streams, shared by the streams of one credential: however
many streams a key or a session follows, its state is read once per half recheck interval (a
stream asks every half interval too, so a revoked credential still ends its streams within
``auth.key_recheck_interval``)."""

from __future__ import annotations

import asyncio
import time

from runyard.auth.principal import Principal
from runyard.auth.repository import AuthRepository
from runyard.clock import Clock
from runyard.db.engine import Database

Credential = tuple[str | None, str | None, str | None, str | None]


class CredentialChecks:
    def __init__(self, db: Database, clock: Clock, fresh_for: float) -> None:
        self.db = db
        self.clock = clock
        self.fresh_for = fresh_for
        self.reads = 0  # for tests and the curious
        self._known: dict[Credential, tuple[float, str | None]] = {}
        self._reading: dict[Credential, asyncio.Future[str | None]] = {}

    async def allowed(self, principal: Principal) -> bool:
        return await self.refusal(principal) is None

    async def refusal(self, principal: Principal) -> str | None:
        """Why the streams of ``principal`` must end now (``credential_revoked``, or
        ``not_a_member`` once its user left the team), else None."""
        credential = (
            principal.key_id,
            principal.session_id,
            principal.user_id,
            principal.team_id,
        )
        if credential[:2] == (None, None):
            return None
        now = time.monotonic()
        known = self._known.get(credential)
        if known is not None and now - known[0] < self.fresh_for:
            return known[1]
        reading = self._reading.get(credential)
        if reading is not None:
            return await asyncio.shield(reading)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._reading[credential] = future
        try:
            refusal = await self._read(principal)
            future.set_result(refusal)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it, nobody else must
            raise
        finally:
            del self._reading[credential]
        self._known = {c: k for c, k in self._known.items() if now - k[0] < self.fresh_for}
        self._known[credential] = (now, refusal)
        return refusal

    async def _read(self, principal: Principal) -> str | None:
        self.reads += 1
        async with self.db.session() as session:
            repo = AuthRepository(session)
            if principal.key_id is not None:
                if not await repo.key_usable(principal.key_id, self.clock.now()):
                    return "credential_revoked"
            else:
                assert principal.session_id is not None
                if not await repo.family_active(principal.session_id):
                    return "credential_revoked"
            user, team = principal.user_id, principal.team_id
            if user is not None and team is not None and not await repo.membership(team, user):
                return "not_a_member"
        return None
