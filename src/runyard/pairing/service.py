"""Pairing rules: start, poll (with RFC 8628's ``slow_down``), confirm and deny. Never commits.

The keys are minted by the device's first poll after the approval, in the unit of work that
marks the pairing delivered: no raw key is ever stored, and a second poll finds the pairing
delivered and is refused. A viewer may pair a device (as with ``POST /auth/device-keys``); a
companion agent key needs an admin, as agent keys do under ``/credentials``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.principal import ROLE_RANK, Principal
from runyard.auth.service import AuthService
from runyard.clock import Clock
from runyard.credentials.service import CredentialService
from runyard.errors import BadRequest, Conflict, Forbidden, NotFound
from runyard.models import DevicePairing
from runyard.pairing.codes import (
    device_code_hash,
    new_device_code,
    new_user_code,
    normalise_user_code,
    user_code_hash,
)
from runyard.pairing.repository import PairingRepository
from runyard.settings import Settings

SLOW_DOWN_STEP = 5  # seconds added to the interval on each slow_down (RFC 8628, 3.5)
KEEP_EXPIRED = timedelta(days=1)  # expired pairings are forgotten after this


@dataclass(frozen=True)
class Started:
    pairing: DevicePairing
    device_code: str
    user_code: str


@dataclass(frozen=True)
class Delivered:
    """What a poll answers: keys only once the pairing was approved (and only that once)."""

    status: str
    device_key: str | None = None
    agent_key: str | None = None
    team_id: str | None = None


class PairingService:
    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.repo = PairingRepository(session)
        self.settings = settings
        self.clock = clock

    async def start(self, device_name: str, with_agent_key: bool) -> Started:
        now = self.clock.now()
        await self.repo.prune(now - KEEP_EXPIRED)
        device_code, user_code = new_device_code(), new_user_code()
        pairing = DevicePairing(
            device_code_hash=device_code_hash(device_code),
            user_code_hash=user_code_hash(user_code),
            device_name=device_name.strip() or "device",
            with_agent_key=with_agent_key,
            pairing_status="pending",
            poll_interval=self.settings.pairing.interval,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.pairing.expires_in),
        )
        self.repo.add(pairing)
        return Started(pairing, device_code, user_code)

    async def poll(self, device_code: str) -> Delivered:
        now = self.clock.now()
        pairing = await self.repo.by_device_code(device_code_hash(device_code))
        if pairing is None:
            raise BadRequest(
                "Unknown device code: start a new pairing (POST /api/v1/desktop/pair/start).",
                code="invalid_grant",
            )
        if pairing.pairing_status == "delivered":
            raise BadRequest(
                "This pairing already delivered its keys; start a new pairing for another key.",
                code="expired_token",
            )
        if pairing.expires_at <= now:
            raise BadRequest(
                "This pairing expired before it was confirmed; start a new one.",
                code="expired_token",
            )
        if pairing.pairing_status == "denied":
            raise BadRequest("The user denied this pairing.", code="access_denied")
        last = pairing.last_polled_at
        pairing.last_polled_at = now
        # 10% slack: a client that sleeps exactly `interval` between answers is never refused.
        if last is not None and (now - last).total_seconds() < pairing.poll_interval * 0.9:
            pairing.poll_interval += SLOW_DOWN_STEP
            raise BadRequest(
                f"Polling too fast: wait {pairing.poll_interval} s between polls from now on.",
                code="slow_down",
                headers={"Retry-After": str(pairing.poll_interval)},
                commit_first=True,  # the longer interval and this poll's time are kept
            )
        if pairing.pairing_status == "pending":
            return Delivered("pending")
        return await self._deliver(pairing)

    async def _deliver(self, pairing: DevicePairing) -> Delivered:
        now = self.clock.now()
        if not await self.repo.mark_delivered(pairing.id, now):
            raise BadRequest(
                "This pairing already delivered its keys; start a new pairing for another key.",
                code="expired_token",
            )
        assert pairing.team_id is not None and pairing.user_id is not None
        device, device_key = AuthService(self.session, self.settings, self.clock).create_device_key(
            pairing.team_id, pairing.user_id, pairing.device_name
        )
        agent_key = None
        if pairing.with_agent_key:
            agent, agent_key = CredentialService(self.session, self.clock).create(
                pairing.team_id, "agent", f"{pairing.device_name} (paired agent)"[:200]
            )
            agent.companion_of = device.id
        await self.repo.flush()  # the key rows exist before the pairing points at one
        pairing.device_key_id = device.id
        return Delivered("approved", device_key, agent_key, pairing.team_id)

    async def lookup(self, user_code: str) -> DevicePairing:
        """The unexpired pairing of a user code, whatever its state."""
        pairing = None
        if normalise_user_code(user_code):
            pairing = await self.repo.by_user_code(user_code_hash(user_code), self.clock.now())
        if pairing is None:
            raise NotFound(
                "No pending pairing has this code: check it, or start again on the device "
                "(codes expire).",
                code="pairing_not_found",
            )
        return pairing

    async def decide(self, principal: Principal, user_code: str, *, approve: bool) -> DevicePairing:
        """Approve (for the caller's user and team) or deny the pending pairing of a code."""
        now = self.clock.now()
        pairing = await self.lookup(user_code)
        if pairing.pairing_status != "pending":
            raise Conflict(
                f"This pairing was already {pairing.pairing_status}.", code="pairing_decided"
            )
        admin = ROLE_RANK.get(principal.role or "", -1) >= ROLE_RANK["admin"]
        if approve and pairing.with_agent_key and not admin:
            raise Forbidden(
                "This device also asks for an agent (ak-) key, which needs the role 'admin' "
                f"or higher in the team; yours is '{principal.role}'.",
                code="role_insufficient",
            )
        pairing.pairing_status = "approved" if approve else "denied"
        pairing.decided_at = now
        if approve:
            pairing.team_id = principal.team
            pairing.user_id = principal.user_id
        return pairing
