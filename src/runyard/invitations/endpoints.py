"""Invitations: admins invite an email address with a role; the invitee accepts with the link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from runyard.api_docs import errors, public_errors
from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy, Principal
from runyard.auth.repository import AuthRepository
from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.deps import ClockDep, RateLimiterDep, SessionDep, SettingsDep, TeamPathAdmin, UnitDep
from runyard.invitations.mail import Mailer, invitation_email
from runyard.invitations.schemas import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationList,
    InvitationRead,
)
from runyard.invitations.service import InvitationService, accept_url
from runyard.models import TeamInvitation
from runyard.pagination import PageDep
from runyard.providers import provider
from runyard.ratelimit import client_address
from runyard.settings import Settings
from runyard.teams.repository import TeamRepository

router = APIRouter(tags=["teams"])


MailerDep = Annotated[Mailer, Depends(provider("mailer", Mailer))]


def to_read(inv: TeamInvitation) -> InvitationRead:
    return InvitationRead.model_validate(inv, from_attributes=True)


async def invite(
    env: tuple[Settings, Clock, Mailer],
    uow: UnitOfWork,
    team_id: str,
    p: Principal,
    body: InvitationCreate,
) -> InvitationCreated:
    """Create the invitation; email it after the commit when SMTP is set up."""
    assert p.user_id
    (settings, clock, mailer), session = env, uow.session
    invitation, raw = await InvitationService(session, settings, clock).create(
        team_id, p.user_id, p.role or "", body.email_address, body.role
    )
    url = accept_url(settings, raw)
    if mailer.enabled:
        team = await TeamRepository(session).team(team_id)
        inviter = await AuthRepository(session).user(p.user_id)
        text = invitation_email(
            team.display_name if team else team_id,
            (inviter.display_name or inviter.email_address) if inviter else "A team admin",
            invitation.role,
            url,
            max(1, settings.auth.invitation_ttl // 86_400),
        )
        subject = f"You are invited to {team.display_name if team else 'a team'} on Runyard"
        to = invitation.email_address

        async def send() -> None:
            mailer.send_later(to, subject, text)

        uow.after_commit(send)
    return InvitationCreated(
        id=invitation.id,
        email_address=invitation.email_address,
        role=invitation.role,
        accept_url=url,
        expires_at=invitation.expires_at,
        emailed=mailer.enabled,
    )


@router.post(
    "/teams/{team_id}/invitations",
    response_model=InvitationCreated,
    status_code=201,
    operation_id="team_invitations_create",
    responses=errors(404, 409),
)
async def create_invitation(
    team_id: str,
    body: InvitationCreate,
    principal: TeamPathAdmin,
    settings: SettingsDep,
    clock: ClockDep,
    mailer: MailerDep,
    uow: UnitDep,
) -> InvitationCreated:
    """Invite an email address to the team with a role (never above yours). The answer's
    `accept_url` carries a one-time token, shown only here (and emailed when the server has
    SMTP configured); it expires after `RUNYARD_AUTH_INVITATION_TTL` (7 days). Nothing says
    whether the address has an account."""
    return await invite((settings, clock, mailer), uow, team_id, principal, body)


@router.post(
    "/teams/{team_id}/members",
    response_model=InvitationCreated,
    status_code=201,
    operation_id="team_members_add",
    responses=errors(404, 409),
    deprecated=True,
)
async def add_member(
    team_id: str,
    body: InvitationCreate,
    principal: TeamPathAdmin,
    settings: SettingsDep,
    clock: ClockDep,
    mailer: MailerDep,
    uow: UnitDep,
) -> InvitationCreated:
    """Invite an email address (same as POST /teams/{team_id}/invitations): nobody joins a
    team without accepting, and the answer never says whether the address has an account."""
    return await invite((settings, clock, mailer), uow, team_id, principal, body)


@router.get(
    "/teams/{team_id}/invitations",
    response_model=InvitationList,
    operation_id="team_invitations_list",
    responses=errors(),
)
async def list_invitations(
    team_id: str,
    principal: TeamPathAdmin,
    settings: SettingsDep,
    clock: ClockDep,
    session: SessionDep,
    page: PageDep,
) -> InvitationList:
    """The team's pending invitations (not accepted, revoked or expired)."""
    rows, total = await InvitationService(session, settings, clock).pending(
        team_id, page.offset, page.per_page
    )
    return InvitationList(invitations=[to_read(r) for r in rows], page_meta=page.meta(total))


@router.delete(
    "/teams/{team_id}/invitations/{invitation_id}",
    status_code=204,
    operation_id="team_invitations_revoke",
    responses=errors(404),
)
async def revoke_invitation(
    team_id: str,
    invitation_id: str,
    principal: TeamPathAdmin,
    settings: SettingsDep,
    clock: ClockDep,
    session: SessionDep,
) -> Response:
    """Revoke a pending invitation: its link stops working."""
    await InvitationService(session, settings, clock).revoke(team_id, invitation_id)
    return Response(status_code=204)


@router.post(
    "/invitations/accept",
    response_model=InvitationAccepted,
    operation_id="invitations_accept",
    responses=public_errors(401, 403, 404, 409, 410, 429),
)
async def accept_invitation(
    body: InvitationAccept,
    request: Request,
    settings: SettingsDep,
    clock: ClockDep,
    limiter: RateLimiterDep,
    uow: UnitDep,
) -> InvitationAccepted:
    """Join the invitation's team. Signed in (a session token): send `{token}`; the invitation
    must be for your address. Not signed in: send `{token, password, display_name}`; the account
    of the invited address is created with that password (or, when it exists, must have it).
    The answer is a new session, like login's, plus the team and role. A used, revoked or
    unknown token answers 404 `invitation_not_found`, an expired one 410 `invitation_expired`.
    Limited per address (429 with `Retry-After`)."""
    await limiter.account_created_or_joined(client_address(request.client))
    user_id: str | None = None
    if request.headers.get("authorization"):
        principal = await authenticate(
            uow.session,
            authorization=request.headers.get("authorization"),
            team_header=None,
            policy=Policy.ACCOUNT,
            secret_key=settings.token_secrets,
            clock=clock,
        )
        user_id = principal.user_id
    return await InvitationService(uow.session, settings, clock).accept(
        body.token, user_id, body.password, body.display_name
    )
