"""Queries for users, memberships, API keys and refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from runyard.db.repository import Repository
from runyard.models import ApiKey, Membership, RefreshToken, Team, User

# Every API request looks its key up: the statement is built once (cache key computed once).
_KEY_BY_HASH = select(ApiKey).where(ApiKey.key_hash == bindparam("key_hash"))


class AuthRepository(Repository):
    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_address == email.lower()))

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def memberships(self, user_id: str) -> list[tuple[Membership, Team]]:
        rows = await self.session.execute(
            select(Membership, Team)
            .join(Team, Team.id == Membership.team_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.created_at)
        )
        return [(m, t) for m, t in rows.tuples()]

    async def membership(self, team_id: str, user_id: str) -> Membership | None:
        return await self.session.get(Membership, (team_id, user_id))

    async def api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self.session.scalar(_KEY_BY_HASH, {"key_hash": key_hash})

    async def key_usable(self, key_id: str, now: datetime) -> bool:
        """Whether an API key is still accepted (not revoked, not expired)."""
        key = await self.session.get(ApiKey, key_id)
        return (
            key is not None
            and key.revoked_at is None
            and (key.expires_at is None or key.expires_at > now)
        )

    async def touch_api_key(self, key_id: str, now: datetime) -> None:
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
        )

    async def refresh_by_hash(self, token_hash: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user_sessions(
        self, user_id: str, now: datetime, *, keep_family: str | None = None
    ) -> None:
        """End every login of a user (but ``keep_family``'s)."""
        query = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family is not None:
            query = query.where(RefreshToken.family_id != keep_family)
        await self.session.execute(query.values(revoked_at=now))

    async def family_active(self, family_id: str, *, user_id: str | None = None) -> bool:
        """Whether a login (token family) is not revoked; of ``user_id`` when given."""
        query = select(RefreshToken.id).where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
        )
        if user_id is not None:
            query = query.where(RefreshToken.user_id == user_id)
        row = await self.session.scalar(query.limit(1))
        return row is not None
