from __future__ import annotations

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import ApiKey


class CredentialRepository(Repository):
    async def get(self, team_id: str, key_id: str) -> ApiKey | None:
        key = await self.session.get(ApiKey, key_id)
        return key if key is not None and key.team_id == team_id else None

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[ApiKey], int]:
        where = ApiKey.team_id == team_id
        total = await self.session.scalar(select(func.count()).select_from(ApiKey).where(where))
        rows = await self.session.scalars(
            select(ApiKey)
            .where(where)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def live_companions(self, key_id: str) -> list[ApiKey]:
        """The unrevoked keys paired with ``key_id`` (a device key's companion agent keys)."""
        rows = await self.session.scalars(
            select(ApiKey).where(ApiKey.companion_of == key_id, ApiKey.revoked_at.is_(None))
        )
        return list(rows)

    async def live_device_keys(self, team_id: str, user_id: str) -> list[ApiKey]:
        """The unrevoked device keys a user holds in a team (minted by their own pairings or
        device logins)."""
        rows = await self.session.scalars(
            select(ApiKey).where(
                ApiKey.team_id == team_id,
                ApiKey.user_id == user_id,
                ApiKey.kind == "device",
                ApiKey.revoked_at.is_(None),
            )
        )
        return list(rows)
