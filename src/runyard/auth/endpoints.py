from __future__ import annotations

from fastapi import APIRouter, Request

from runyard.api_docs import errors, public_errors
from runyard.auth.access import AccountCaller, DeviceKeyCaller
from runyard.auth.schemas import (
    DeviceKeyCreate,
    DeviceKeyCreated,
    LoginRequest,
    RefreshRequest,
    SignupRequest,
    Success,
    TokenPair,
)
from runyard.auth.service import AuthService
from runyard.auth.users import create_user
from runyard.errors import Forbidden, Unauthenticated
from runyard.providers import ClockDep, RateLimiterDep, SessionDep, SettingsDep, UnitDep
from runyard.ratelimit import client_address

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=TokenPair,
    operation_id="auth_login",
    responses=public_errors(401, 429),
)
async def login(
    body: LoginRequest,
    request: Request,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenPair:
    """Exchange an email address and password for a session token and a refresh token.

    Failed attempts are limited per address and account (429 with `Retry-After`), so guesses
    from one place never lock the account's owner out elsewhere."""
    address = client_address(request.client)
    await limiter.before_login(address, body.email_address)
    try:
        return await AuthService(uow.session, settings, clock).login(
            body.email_address, body.user_password
        )
    except Unauthenticated:
        await uow.rollback()  # hand the connection back before counting (SQLite has one)
        await limiter.login_failed(address, body.email_address)
        raise


@router.post(
    "/signup",
    response_model=TokenPair,
    status_code=201,
    operation_id="auth_signup",
    responses=public_errors(403, 409, 429),
)
async def signup(
    body: SignupRequest,
    request: Request,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenPair:
    """Create an account and sign in, when the server's registration is `open`
    (`RUNYARD_AUTH_REGISTRATION`; otherwise 403 `registration_closed`: join by accepting an
    invitation). The new account belongs to no team: create one with POST /teams. Limited per
    address (429 with `Retry-After`)."""
    if settings.auth.registration != "open":
        raise Forbidden(
            "Sign-up is not open on this server: accept an invitation from a team's admin "
            f"(registration is {settings.auth.registration!r}).",
            code="registration_closed",
        )
    await limiter.account_created_or_joined(client_address(request.client))
    user = await create_user(
        uow.session, body.email_address, body.password, body.display_name.strip()
    )
    return AuthService(uow.session, settings, clock).issue_session(user.id)


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
    return await AuthService(session, settings, clock).refresh(body.refresh_token)


@router.post("/logout", response_model=Success, operation_id="auth_logout", responses=errors())
async def logout(
    principal: AccountCaller, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Success:
    """End this session: its refresh tokens stop working and its access token is refused."""
    assert principal.session_id is not None
    await AuthService(session, settings, clock).logout(principal.session_id)
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
    assert principal.team and principal.user_id
    key, raw = AuthService(session, settings, clock).create_device_key(
        principal.team, principal.user_id, body.device_name
    )
    return DeviceKeyCreated(id=key.id, key_prefix=key.key_prefix, raw_key=raw)
