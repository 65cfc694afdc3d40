"""`/desktop/pair/*`: start and poll (no credential; limited per address), confirm and deny (a
signed-in user's session, in the team the key is for)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from runyard.api_docs import errors, public_errors
from runyard.deps import ClockDep, DeviceKeyCaller, RateLimiterDep, SettingsDep, UnitDep
from runyard.pairing.schemas import (
    PairConfirm,
    PairDecided,
    PairPending,
    PairPoll,
    PairPolled,
    PairStart,
    PairStarted,
)
from runyard.pairing.service import PairingService
from runyard.ratelimit import client_address

router = APIRouter(prefix="/desktop/pair", tags=["pairing"])
PAGE = "/#/pair"


@router.post(
    "/start",
    response_model=PairStarted,
    operation_id="pairing_start",
    responses=public_errors(429),
)
async def start_pairing(
    body: PairStart,
    request: Request,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PairStarted:
    """Start pairing a device (RFC 8628-like). Show `user_code` and `verification_uri` to the
    user, who confirms it in the dashboard while the device polls `/desktop/pair/poll` with
    `device_code` every `interval` seconds."""
    await limiter.pairing_started(client_address(request.client))
    started = await PairingService(uow.session, settings, clock).start(
        body.device_name, body.with_agent_key
    )
    page = settings.public_url + PAGE
    return PairStarted(
        device_code=started.device_code,
        user_code=started.user_code,
        verification_uri=page,
        verification_uri_complete=f"{page}?user_code={started.user_code}",
        expires_in=settings.pairing.expires_in,
        interval=started.pairing.poll_interval,
    )


@router.post(
    "/poll",
    response_model=PairPolled,
    response_model_exclude_unset=True,
    operation_id="pairing_poll",
    responses=public_errors(429),
)
async def poll_pairing(
    body: PairPoll,
    request: Request,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PairPolled:
    """`{"status": "pending"}` until a user confirms; then, once, `{"status": "approved",
    "device_key", "agent_key", "team_id"}`. Refusals (400): `slow_down` (polled sooner than
    `interval`; the interval grows by 5 s), `expired_token` (expired, or the keys were already
    delivered), `access_denied` (the user denied it), `invalid_grant` (unknown code)."""
    await limiter.pairing_polled(client_address(request.client))
    polled = await PairingService(uow.session, settings, clock).poll(body.device_code)
    if polled.status == "pending":
        return PairPolled(status="pending")
    return PairPolled(
        status="approved",
        device_key=polled.device_key,
        agent_key=polled.agent_key,
        team_id=polled.team_id,
    )


async def _count(principal: DeviceKeyCaller, uow: UnitDep, limiter: RateLimiterDep) -> None:
    """Lookups and decisions count against the user's pairing-confirm limit."""
    assert principal.user_id is not None
    await uow.commit()  # the shared limiter's counter takes the connection (SQLite has one)
    await limiter.pairing_confirmed(principal.user_id)


async def _decide(
    body: PairConfirm,
    principal: DeviceKeyCaller,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
    *,
    approve: bool,
) -> PairDecided:
    await _count(principal, uow, limiter)
    pairing = await PairingService(uow.session, settings, clock).decide(
        principal, body.user_code, approve=approve
    )
    return PairDecided(status="approved" if approve else "denied", device_name=pairing.device_name)


@router.post(
    "/lookup",
    response_model=PairPending,
    operation_id="pairing_lookup",
    responses=errors(404, 429),
)
async def lookup_pairing(
    body: PairConfirm,
    principal: DeviceKeyCaller,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PairPending:
    """What the dashboard shows before a confirm: the device's name, whether it also asks for
    an agent key, and when the code expires (session tokens only; counted with confirms)."""
    await _count(principal, uow, limiter)
    pairing = await PairingService(uow.session, settings, clock).lookup(body.user_code)
    return PairPending.model_validate(pairing, from_attributes=True)


@router.post(
    "/confirm",
    response_model=PairDecided,
    operation_id="pairing_confirm",
    responses=errors(404, 409, 429),
)
async def confirm_pairing(
    body: PairConfirm,
    principal: DeviceKeyCaller,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PairDecided:
    """Approve the pending pairing with this user code (session tokens only; the team comes
    from `X-Team-ID`). The device's next poll collects a `dk-` key bound to you and this team,
    plus a companion `ak-` key if the device asked for one (that needs admin+). Revoking the
    `dk-` revokes its companion."""
    return await _decide(body, principal, uow, limiter, settings, clock, approve=True)


@router.post(
    "/deny",
    response_model=PairDecided,
    operation_id="pairing_deny",
    responses=errors(404, 409, 429),
)
async def deny_pairing(
    body: PairConfirm,
    principal: DeviceKeyCaller,
    uow: UnitDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> PairDecided:
    """Deny the pending pairing with this user code; the device's next poll answers
    `access_denied`."""
    return await _decide(body, principal, uow, limiter, settings, clock, approve=False)
