from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from runyard.api_docs import errors
from runyard.auth.repository import AuthRepository
from runyard.auth.schemas import Success
from runyard.credentials.service import CredentialService
from runyard.deps import (
    AccountCaller,
    ClockDep,
    MeCaller,
    SessionDep,
    SettingsDep,
    TeamPathAdmin,
    TeamPathMember,
    UnitDep,
)
from runyard.errors import NotFound
from runyard.gateway.registry import Gateway
from runyard.models import Membership, User
from runyard.pagination import PageDep
from runyard.providers import provider
from runyard.retention.sweeper import Sweeper
from runyard.teams.deletion import delete_team
from runyard.teams.schemas import (
    MemberList,
    MemberRead,
    MemberUpdate,
    TeamCreate,
    TeamCreated,
    TeamDelete,
    TeamOfUser,
    TeamRead,
    TeamTransfer,
    TeamUpdate,
    UserRead,
)
from runyard.teams.service import TeamService

router = APIRouter(tags=["teams"])


@router.post(
    "/teams",
    response_model=TeamCreated,
    status_code=201,
    operation_id="teams_create",
    responses=errors(),
)
async def create_team(
    body: TeamCreate, principal: AccountCaller, session: SessionDep
) -> TeamCreated:
    """Create a team; you become its owner."""
    assert principal.user_id
    team = await TeamService(session).create_team(principal.user_id, body.display_name)
    return TeamCreated(id=team.id)


@router.get("/users/me", response_model=UserRead, operation_id="users_me", responses=errors())
async def me(principal: MeCaller, session: SessionDep) -> UserRead:
    """The calling user and the teams they belong to (with a device key: its user)."""
    repo = AuthRepository(session)
    assert principal.user_id
    user = await repo.user(principal.user_id)
    if user is None:
        raise NotFound("The user no longer exists.", code="user_not_found")
    teams = [
        TeamOfUser(id=t.id, display_name=t.display_name, role=m.role)
        for m, t in await repo.memberships(user.id)
    ]
    return UserRead(
        id=user.id,
        email_address=user.email_address,
        display_name=user.display_name,
        created_at=user.created_at,
        teams=teams,
    )


def _member(m: Membership, u: User) -> MemberRead:
    return MemberRead(
        user_id=u.id,
        email_address=u.email_address,
        display_name=u.display_name,
        role=m.role,
        created_at=m.created_at,
    )


@router.get(
    "/teams/{team_id}/members",
    response_model=MemberList,
    operation_id="team_members_list",
    responses=errors(),
)
async def list_members(
    team_id: str, principal: TeamPathAdmin, session: SessionDep, page: PageDep
) -> MemberList:
    """Members of the team (admins and the owner)."""
    rows, total = await TeamService(session).members(team_id, page.offset, page.per_page)
    return MemberList(members=[_member(m, u) for m, u in rows], page_meta=page.meta(total))


@router.put(
    "/teams/{team_id}/members/{user_id}",
    response_model=MemberRead,
    operation_id="team_members_update",
    responses=errors(404, 409),
)
async def update_member(
    team_id: str, user_id: str, body: MemberUpdate, principal: TeamPathAdmin, session: SessionDep
) -> MemberRead:
    """Change a member's role (the owner's role cannot change)."""
    service = TeamService(session)
    m = await service.change_role(team_id, user_id, body.role)
    user = await AuthRepository(session).user(user_id)
    assert user is not None  # a membership row implies its user (foreign key)
    return _member(m, user)


@router.delete(
    "/teams/{team_id}/members/{user_id}",
    status_code=204,
    operation_id="team_members_remove",
    responses=errors(404, 409),
)
async def remove_member(
    team_id: str, user_id: str, principal: TeamPathAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    """Remove a member (not the owner). The device keys they paired in this team, and the
    companion agent keys paired with them, are revoked (their agents disconnect within
    `RUNYARD_AUTH_KEY_RECHECK_INTERVAL`)."""
    await TeamService(session).remove_member(team_id, user_id)
    await CredentialService(session, clock).revoke_member_keys(team_id, user_id)
    return Response(status_code=204)


@router.put(
    "/teams/{team_id}",
    response_model=TeamRead,
    operation_id="teams_update",
    responses=errors(404),
)
async def update_team(
    team_id: str, body: TeamUpdate, principal: TeamPathAdmin, session: SessionDep
) -> TeamRead:
    """Rename the team (admins and the owner)."""
    team = await TeamService(session).rename(team_id, body.display_name)
    return TeamRead(id=team.id, display_name=team.display_name, created_at=team.created_at)


@router.post(
    "/teams/{team_id}/transfer-ownership",
    response_model=Success,
    operation_id="teams_transfer_ownership",
    responses=errors(404, 409),
)
async def transfer_ownership(
    team_id: str, body: TeamTransfer, principal: TeamPathAdmin, session: SessionDep
) -> Success:
    """Make another member the owner (owner only); you become an admin."""
    assert principal.user_id
    await TeamService(session).transfer(team_id, principal.user_id, principal.role, body.user_id)
    return Success()


@router.post(
    "/teams/{team_id}/leave",
    response_model=Success,
    operation_id="teams_leave",
    responses=errors(409),
)
async def leave_team(
    team_id: str, principal: TeamPathMember, session: SessionDep, clock: ClockDep
) -> Success:
    """Leave the team (any member but the owner, who must transfer ownership first: 409).
    The device keys you paired in this team and their companion agent keys are revoked, as
    when an admin removes you."""
    assert principal.user_id
    await TeamService(session).leave(team_id, principal.user_id)
    await CredentialService(session, clock).revoke_member_keys(team_id, principal.user_id)
    return Success()


@router.delete(
    "/teams/{team_id}",
    status_code=204,
    operation_id="teams_delete",
    responses=errors(404),
)
async def remove_team(
    team_id: str,
    body: TeamDelete,
    principal: TeamPathAdmin,
    uow: UnitDep,
    settings: SettingsDep,
    clock: ClockDep,
    gateway: Annotated[Gateway, Depends(provider("gateway", Gateway))],
    sweeper: Annotated[Sweeper, Depends(provider("sweeper", Sweeper))],
) -> Response:
    """Delete the team and everything in it (owner only; type the team's name in `team_name`).

    Unfinished tasks are cancelled (their agents told), its keys stop working and its agents
    are disconnected, its members lose access, its webhooks send nothing more, and its
    workflows, files and outputs are removed with their stored objects (after the commit; the
    retention sweeper retries whatever the store refused)."""
    await delete_team(
        uow,
        settings,
        clock,
        gateway,
        sweeper.remover,
        team_id=team_id,
        role=principal.role,
        typed_name=body.team_name,
    )
    return Response(status_code=204)
