"""Inviting to a team and accepting. Never commits; the request that owns the work does.

The token is the invitee's proof: it is shown once (in ``accept_url``, and emailed when SMTP is
set up), only its SHA-256 is stored, it expires and works once. Every refusal of a token (unknown,
used, revoked: 404; expired: 410) reads the same whatever account the invited address has.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.principal import ROLE_RANK
from runyard.auth.repository import AuthRepository
from runyard.auth.security import sha256_hex, verify_password
from runyard.auth.service import AuthService
from runyard.auth.users import normalise_email
from runyard.clock import Clock
from runyard.db.base import new_id
from runyard.errors import Conflict, Forbidden, Gone, NotFound, Unauthenticated, Unprocessable
from runyard.invitations.repository import InvitationRepository
from runyard.invitations.schemas import InvitationAccepted
from runyard.models import Membership, TeamInvitation, User
from runyard.settings import Settings
from runyard.teams.service import TeamService

TOKEN_PREFIX = "iv-"


def accept_url(settings: Settings, token: str) -> str:
    """The dashboard's accept page; the token is in the fragment, so it never reaches a log."""
    return f"{settings.public_url}/#/accept?token={token}"


def _invalid() -> NotFound:
    return NotFound(
        "This invitation link is not valid: it was used, revoked or never existed. Ask the "
        "team's admin for a new invitation.",
        code="invitation_not_found",
    )


class InvitationService:
    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.repo = InvitationRepository(session)
        self.settings = settings
        self.clock = clock

    async def create(
        self, team_id: str, inviter_id: str, inviter_role: str, email: str, role: str
    ) -> tuple[TeamInvitation, str]:
        """A pending invitation and its raw token (shown once)."""
        email = normalise_email(email)
        if ROLE_RANK[role] > ROLE_RANK.get(inviter_role, -1):
            raise Forbidden(
                f"You cannot invite with the role '{role}', above your own ('{inviter_role}').",
                code="role_insufficient",
            )
        if role == "owner":
            raise Unprocessable(
                "A team has one owner: invite as admin, then POST "
                f"/api/v1/teams/{team_id}/transfer-ownership.",
                code="invalid_request",
            )
        now = self.clock.now()
        if await self.repo.pending_for(team_id, email, now) is not None:
            raise Conflict(
                f"{email} already has a pending invitation to this team; revoke it "
                "(DELETE …/invitations/{id}) to send a new one.",
                code="invitation_exists",
            )
        # Admins see the members list anyway: saying so reveals nothing new.
        if await TeamService(self.session).member_by_email(team_id, email) is not None:
            raise Conflict(f"{email} is already a member of this team.", code="already_member")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        invitation = TeamInvitation(
            id=new_id(),
            team_id=team_id,
            email_address=email,
            role=role,
            token_hash=sha256_hex(raw),
            invited_by=inviter_id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.auth.invitation_ttl),
        )
        self.repo.add(invitation)
        await self.repo.flush()
        return invitation, raw

    async def pending(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[TeamInvitation], int]:
        return await self.repo.pending_page(team_id, self.clock.now(), offset, limit)

    async def revoke(self, team_id: str, invitation_id: str) -> None:
        invitation = await self.repo.get(team_id, invitation_id)
        now = self.clock.now()
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.revoked_at is not None
            or invitation.expires_at <= now
        ):
            raise NotFound(
                "No pending invitation with this id in this team.", code="invitation_not_found"
            )
        invitation.revoked_at = now

    async def accept(
        self, token: str, user_id: str | None, password: str | None, display_name: str
    ) -> InvitationAccepted:
        """Join the invitation's team as the signed-in user (``user_id``), or as the account of
        the invited address (created with ``password`` when there is none)."""
        now = self.clock.now()
        invitation = await self.repo.by_token_hash(sha256_hex(token.strip()))
        if invitation is None or invitation.accepted_at or invitation.revoked_at:
            raise _invalid()
        if invitation.expires_at <= now:
            raise Gone(
                "This invitation link has expired; ask the team's admin for a new one.",
                code="invitation_expired",
            )
        user = await self._invitee(invitation, user_id, password, display_name)
        if await AuthRepository(self.session).membership(invitation.team_id, user.id):
            raise Conflict("You are already a member of this team.", code="already_member")
        if not await self.repo.claim(invitation.id, now):
            raise _invalid()  # accepted or revoked a moment ago
        self.repo.add(Membership(team_id=invitation.team_id, user_id=user.id, role=invitation.role))
        await self.repo.flush()
        pair = AuthService(self.session, self.settings, self.clock).issue_session(user.id)
        return InvitationAccepted(
            **pair.model_dump(), team_id=invitation.team_id, role=invitation.role
        )

    async def _invitee(
        self, invitation: TeamInvitation, user_id: str | None, password: str | None, name: str
    ) -> User:
        auth = AuthRepository(self.session)
        if user_id is not None:
            user = await auth.user(user_id)
            if user is None:
                raise Unauthenticated("The user no longer exists.", code="invalid_token")
            if user.email_address != invitation.email_address:
                raise Forbidden(
                    "This invitation is for another email address: sign in with the invited "
                    "address (or accept without a session), or ask for an invitation to yours.",
                    code="invitation_email_mismatch",
                )
            return user
        if password is None:
            raise Unprocessable(
                "Sign in and send only the token, or send `password` (and `display_name`) to "
                "create the account of the invited address.",
                code="invalid_request",
            )
        user = await auth.user_by_email(invitation.email_address)
        if user is None:
            if self.settings.auth.registration == "closed":
                raise Forbidden(
                    "This server does not create accounts (RUNYARD_AUTH_REGISTRATION=closed); "
                    "ask its operator to create yours with `runyard admin create-user`.",
                    code="registration_closed",
                )
            return await TeamService(self.session).create_user(
                invitation.email_address, password, name
            )
        if not verify_password(user.password_hash, password):
            raise Unauthenticated(
                "Wrong password for the invited address; sign in first, then accept.",
                code="invalid_credentials",
            )
        return user
