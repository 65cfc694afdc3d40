"""Creating and revoking team keys. Never commits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.security import KeyKind, new_api_key
from runyard.clock import Clock
from runyard.credentials.repository import CredentialRepository
from runyard.db.base import new_id
from runyard.errors import NotFound
from runyard.models import ApiKey


class CredentialService:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.repo = CredentialRepository(session)
        self.clock = clock

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[ApiKey], int]:
        return await self.repo.page(team_id, offset, limit)

    def create(
        self,
        team_id: str,
        kind: KeyKind,
        display_name: str = "",
        expires_in_days: int | None = None,
        user_id: str | None = None,
    ) -> tuple[ApiKey, str]:
        raw, prefix, key_hash = new_api_key(kind)
        expires = self.clock.now() + timedelta(days=expires_in_days) if expires_in_days else None
        key = ApiKey(
            id=new_id(),
            team_id=team_id,
            user_id=user_id,
            kind=kind,
            display_name=display_name,
            key_prefix=prefix,
            key_hash=key_hash,
            expires_at=expires,
            created_at=self.clock.now(),
        )
        self.repo.add(key)
        return key, raw

    async def revoke(self, team_id: str, key_id: str) -> list[ApiKey]:
        """Revoke a key and the keys paired with it (a device key's companion agent key); the
        revoked keys, the named one first."""
        key = await self.repo.get(team_id, key_id)
        if key is None:
            raise NotFound("No such credential in this team.", code="credential_not_found")
        now = self.clock.now()
        revoked = [key, *await self.repo.live_companions(key.id)]
        for each in revoked:
            if each.revoked_at is None:
                each.revoked_at = now
        return revoked

    async def revoke_member_keys(self, team_id: str, user_id: str) -> list[ApiKey]:
        """A member leaves the team: revoke the keys they created for themselves there (device
        keys and the companion agent keys paired with them). Team keys an admin created
        (integration and standalone agent keys) belong to the team and stay."""
        now = self.clock.now()
        revoked: list[ApiKey] = []
        for device in await self.repo.live_device_keys(team_id, user_id):
            revoked += [device, *await self.repo.live_companions(device.id)]
        for each in revoked:
            each.revoked_at = now
        return revoked
