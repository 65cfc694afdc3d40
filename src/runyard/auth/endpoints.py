from __future__ import annotations

from fastapi import APIRouter, Request

from runyard.api_docs import errors, public_errors
from runyard.auth.schemas import (
    DeviceKeyCreate,
    DeviceKeyCreated,
    LoginRequest,
    RefreshRequest,
    Success,
    TokenPair,
)
from runyard.auth.service import AuthService
from runyard.deps import AccountCaller, ClockDep, DeviceKeyCaller, SessionDep, SettingsDep
from runyard.errors import Unauthenticated
from runyard.ratelimit import RateLimiter, client_address

router = APIRouter(prefix="/auth", tags=["auth"])


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


@router.post(
    "/login",
    response_model=TokenPair,
    operation_id="auth_login",
    responses=public_errors(401, 429),
)
async def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenPair:
    """Exchange an email address and password for a session token and a refresh token.

    Failed attempts are limited per address and account (429 with `Retry-After`), so guesses
    from one place never lock the account's owner out elsewhere."""
    limiter, address = _limiter(request), client_address(request.client)
    await limiter.before_login(address, body.email_address)
    try:
        pair = await AuthService(session, settings, clock).login(
            body.email_address, body.user_password
        )
    except Unauthenticated:
        await session.rollback()  # hand the connection back before counting (SQLite has one)
        await limiter.login_failed(address, body.email_address)
        raise
    await session.commit()
    return pair


@router.post(
    "/refresh",
    response_model=TokenPair,
    operation_id="auth_refresh",
    responses=public_errors(401),
)
async def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> TokenPair:
    """Rotate a refresh token. Reusing an old one revokes the whole login (token family)."""
    pair, reason = await AuthService(session, settings, clock).refresh(body.refresh_token)
    await session.commit()
    if pair is None:
        if reason == "reused":
            raise Unauthenticated(
                "This refresh token was already used; the session is revoked. Log in again.",
                code="refresh_token_reused",
            )
        raise Unauthenticated(
            "The refresh token is invalid, expired or revoked; log in again.",
            code="invalid_refresh_token",
        )
    return pair


@router.post("/logout", response_model=Success, operation_id="auth_logout", responses=errors())
async def logout(
    principal: AccountCaller, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Success:
    """End this session: its refresh tokens stop working and its access token is refused."""
    assert principal.session_id is not None
    await AuthService(session, settings, clock).logout(principal.session_id)
    await session.commit()
    return Success()


@router.post(
    "/device-keys",
    response_model=DeviceKeyCreated,
    status_code=201,
    operation_id="auth_create_device_key",
    responses=errors(),
)
async def create_device_key(
    body: DeviceKeyCreate,
    principal: DeviceKeyCaller,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> DeviceKeyCreated:
    """Mint a `dk-` device key bound to you and the team (what `runyard login` saves)."""
    assert principal.team_id and principal.user_id
    key, raw = AuthService(session, settings, clock).create_device_key(
        principal.team_id, principal.user_id, body.device_name
    )
    await session.commit()
    return DeviceKeyCreated(id=key.id, key_prefix=key.key_prefix, raw_key=raw)
