"""Resolve ``Authorization`` (+ ``X-Team-ID``) into a ``Principal`` and apply the access matrix."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.principal import (
    NEEDS_TEAM,
    CallerKind,
    Policy,
    Principal,
    check_role,
    refusal,
)
from runyard.auth.repository import AuthRepository
from runyard.auth.security import KIND_BY_PREFIX, decode_access_token, sha256_hex
from runyard.clock import Clock
from runyard.errors import BadRequest, Forbidden, Unauthenticated

TOUCH_EVERY = timedelta(seconds=60)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use `Authorization: Bearer <token>`.")
    return token.strip()


async def authenticate(
    session: AsyncSession,
    *,
    authorization: str | None,
    team_header: str | None,
    policy: Policy,
    secret_key: str | tuple[str, ...],
    clock: Clock,
) -> Principal:
    token = bearer_token(authorization)
    repo = AuthRepository(session)
    now = clock.now()
    kind = KIND_BY_PREFIX.get(token[:3])
    if kind is not None:
        key = await repo.api_key_by_hash(sha256_hex(token))
        if key is None or key.kind != kind:
            raise Unauthenticated("This API key is not valid.", code="invalid_credentials")
        if key.revoked_at is not None:
            raise Unauthenticated("This API key was revoked.", code="credential_revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthenticated("This API key has expired.", code="credential_expired")
        caller: CallerKind = kind  # type: ignore[assignment]
        refused = refusal(policy, caller)
        if refused is not None:
            raise refused
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            await repo.touch_api_key(key.id, now)  # committed with the request's unit of work
        role = None
        if caller == "device":
            assert key.user_id is not None
            membership = await repo.membership(key.team_id, key.user_id)
            if membership is None:
                raise Forbidden("The device key's user left this team.", code="not_a_member")
            role = membership.role
        elif caller == "integration":
            role = "member"
        principal = Principal(
            kind=caller, team_id=key.team_id, user_id=key.user_id, role=role, key_id=key.id
        )
        if caller in ("device", "integration"):
            check_role(policy, principal.role)
        return principal

    claims = decode_access_token(secret_key, token)
    if claims is None:
        raise Unauthenticated(
            "The session token is invalid or expired; log in again or refresh it.",
            code="invalid_token",
        )
    refused = refusal(policy, "session")
    if refused is not None:
        raise refused
    user_id, family = str(claims["sub"]), str(claims["sid"])
    # The session must be this user's: a token whose sid names another user's login is refused.
    if not await repo.family_active(family, user_id=user_id):
        raise Unauthenticated("This session was logged out; log in again.", code="invalid_token")
    if policy not in NEEDS_TEAM:
        return Principal(kind="session", team_id=None, user_id=user_id, session_id=family)
    memberships = await repo.memberships(user_id)
    if team_header:
        match = next((m for m, _ in memberships if m.team_id == team_header.strip()), None)
        if match is None:
            raise Forbidden("You are not a member of the team in X-Team-ID.", code="not_a_member")
    elif len(memberships) == 1:
        match = memberships[0][0]
    else:
        raise BadRequest(
            "You belong to several teams (or none): send the team's id in the X-Team-ID header.",
            code="team_required",
        )
    check_role(policy, match.role)
    return Principal(
        kind="session",
        team_id=match.team_id,
        user_id=user_id,
        role=match.role,
        session_id=family,
    )
