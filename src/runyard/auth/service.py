"""Login, refresh rotation with reuse detection, logout, device keys. Never commits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.repository import AuthRepository
from runyard.auth.schemas import TokenPair
from runyard.auth.security import (
    encode_access_token,
    new_api_key,
    new_refresh_token,
    sha256_hex,
    verify_password,
)
from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.errors import Unauthenticated
from runyard.models import ApiKey, RefreshToken
from runyard.settings import Settings


class AuthService:
    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.repo = AuthRepository(session)
        self.settings = settings
        self.clock = clock

    async def login(self, email: str, password: str) -> TokenPair:
        user = await self.repo.user_by_email(email.strip())
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise Unauthenticated("Wrong email address or password.", code="invalid_credentials")
        return self._issue(user.id, family_id=new_id())

    def issue_session(self, user_id: str) -> TokenPair:
        """A new login (token family) of ``user_id``, as login answers it."""
        return self._issue(user_id, family_id=new_id())

    def _issue(self, user_id: str, family_id: str) -> TokenPair:
        now = self.clock.now()
        raw, token_hash = new_refresh_token()
        self.repo.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=token_hash,
                expires_at=now + timedelta(seconds=self.settings.auth.refresh_token_ttl),
            )
        )
        ttl = self.settings.auth.access_token_ttl
        access = encode_access_token(self.settings.secret_key, user_id, family_id, now, ttl)
        return TokenPair(access_token=access, refresh_token=raw, expires_in=ttl)

    async def refresh(self, raw: str) -> TokenPair:
        """A new pair for an unused refresh token. A reused one revokes its whole family (kept:
        the refusal commits first)."""
        now = self.clock.now()
        token = await self.repo.refresh_by_hash(sha256_hex(raw))
        if token is None or token.expires_at <= now or token.revoked_at is not None:
            raise Unauthenticated(
                "The refresh token is invalid, expired or revoked; log in again.",
                code="invalid_refresh_token",
            )
        if token.used_at is not None:
            await self.repo.revoke_family(token.family_id, now)
            raise Unauthenticated(
                "This refresh token was already used; the session is revoked. Log in again.",
                code="refresh_token_reused",
                commit_first=True,
            )
        token.used_at = now
        return self._issue(token.user_id, token.family_id)

    async def logout(self, family_id: str) -> None:
        await self.repo.revoke_family(family_id, self.clock.now())

    def create_device_key(self, team_id: str, user_id: str, device_name: str) -> tuple[ApiKey, str]:
        raw, prefix, key_hash = new_api_key("device")
        key = ApiKey(
            id=new_id(),
            team_id=team_id,
            user_id=user_id,
            kind="device",
            display_name=device_name,
            key_prefix=prefix,
            key_hash=key_hash,
        )
        self.repo.add(key)
        return key, raw
