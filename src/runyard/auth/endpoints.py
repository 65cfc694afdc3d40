from __future__ import annotations

from fastapi import APIRouter, Request

from runyard.api_docs import errors, public_errors
from runyard.auth.ratelimit import SlidingWindowLimiter
from runyard.auth.schemas import (
    DeviceKeyCreate,
    DeviceKeyCreated,
    LoginRequest,
    RefreshRequest,
    Success,
    TokenPair,
)
from runyard.auth.service import AuthService
from runyard.deps import (
    AccountCaller,
    ClockDep,
    DeviceKeyCaller,
    SessionDep,
    SettingsDep,
    services_of,
)
from runyard.errors import TooManyRequests

router = APIRouter(prefix="/auth", tags=["auth"])


def _limiter(request: Request) -> SlidingWindowLimiter:
    return services_of(request).login_limiter


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
    """Exchange an email address and password for a session token and a refresh token."""
    address = request.client.host if request.client else "unknown"
    wait = _limiter(request).hit(f"ip:{address}", f"user:{body.email_address.strip().lower()}")
    if wait is not None:
        raise TooManyRequests(
            f"Too many login attempts; retry in {int(wait) + 1} s.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    pair = await AuthService(session, settings, clock).login(body.email_address, body.user_password)
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
