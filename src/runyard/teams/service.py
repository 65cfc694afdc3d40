"""Accounts and membership rules. Never commits; the request or command that owns the work does.

Nobody joins a team without their consent: the API invites (``runyard.invitations``) and the
invitee accepts. ``add_member`` is for the server's own shell and fixtures only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.repository import AuthRepository
from runyard.auth.security import hash_password, verify_password
from runyard.auth.users import check_password, create_user, normalise_email
from runyard.db.base import new_id
from runyard.errors import Conflict, Forbidden, NotFound
from runyard.models import Membership, Team, User
from runyard.teams.repository import TeamRepository


def owner_only(role: str | None) -> None:
    if role != "owner":
        raise Forbidden(
            f"Only the team's owner may do this; your role is '{role}'.", code="role_insufficient"
        )


class TeamService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = TeamRepository(session)
        self.auth = AuthRepository(session)

    async def members(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Membership, User]], int]:
        return await self.repo.members(team_id, offset, limit)

    async def create_user(self, email: str, password: str, display_name: str = "") -> User:
        return await create_user(self.repo.session, email, password, display_name)

    async def create_team(self, owner_id: str, display_name: str) -> Team:
        team = Team(id=new_id(), display_name=display_name)
        self.repo.add(team)
        await self.repo.flush()
        self.repo.add(Membership(team_id=team.id, user_id=owner_id, role="owner"))
        await self.repo.flush()
        return team

    async def add_member(self, team_id: str, email: str, role: str) -> tuple[Membership, User]:
        """Add an existing user directly (the server's shell and test fixtures; never the API)."""
        user = await self.repo.user_by_email(normalise_email(email))
        if user is None:
            raise NotFound("No user has this email address.", code="user_not_found")
        if await self.repo.membership(team_id, user.id) is not None:
            raise Conflict("This user is already a member of the team.", code="already_member")
        membership = Membership(team_id=team_id, user_id=user.id, role=role)
        self.repo.add(membership)
        await self.repo.flush()
        return membership, user

    async def member_by_email(self, team_id: str, email: str) -> Membership | None:
        user = await self.repo.user_by_email(email)
        return None if user is None else await self.repo.membership(team_id, user.id)

    async def _existing(self, team_id: str, user_id: str) -> Membership:
        membership = await self.repo.membership(team_id, user_id)
        if membership is None:
            raise NotFound("No such member in this team.", code="member_not_found")
        if membership.role == "owner":
            raise Conflict(
                "The team's owner cannot be changed or removed; the owner can hand the team "
                "over with POST /api/v1/teams/{team_id}/transfer-ownership.",
                code="owner_immutable",
            )
        return membership

    async def change_role(self, team_id: str, user_id: str, role: str) -> Membership:
        membership = await self._existing(team_id, user_id)
        membership.role = role
        return membership

    async def remove_member(self, team_id: str, user_id: str) -> None:
        """Remove a member: their session tokens and device keys stop working in this team at
        once (every request checks the membership; open event streams within
        ``key_recheck_interval``)."""
        await self._existing(team_id, user_id)
        await self.repo.remove_member(team_id, user_id)

    async def team(self, team_id: str) -> Team:
        team = await self.repo.team(team_id)
        if team is None:
            raise NotFound(f"No team {team_id!r}.", code="team_not_found")
        return team

    async def rename(self, team_id: str, display_name: str) -> Team:
        team = await self.team(team_id)
        team.display_name = display_name
        return team

    async def transfer(self, team_id: str, owner_id: str, owner_role: str | None, to: str) -> None:
        """Make member ``to`` the owner; the previous owner becomes an admin."""
        owner_only(owner_role)
        if to == owner_id:
            raise Conflict("You already own this team.", code="owner_immutable")
        target = await self.repo.membership(team_id, to)
        if target is None:
            raise NotFound(
                "No such member in this team: invite them first, then transfer.",
                code="member_not_found",
            )
        current = await self.repo.membership(team_id, owner_id)
        assert current is not None  # the caller's membership was just checked
        current.role = "admin"
        await self.repo.flush()  # never two owners, even for a moment
        target.role = "owner"

    async def leave(self, team_id: str, user_id: str) -> None:
        membership = await self.repo.membership(team_id, user_id)
        if membership is None:
            raise NotFound("You are not a member of this team.", code="member_not_found")
        if membership.role == "owner":
            raise Conflict(
                "The owner cannot leave the team: transfer ownership first (POST "
                f"/api/v1/teams/{team_id}/transfer-ownership), or delete the team.",
                code="owner_cannot_leave",
            )
        await self.repo.remove_member(team_id, user_id)

    async def update_user(self, user_id: str, display_name: str) -> User:
        user = await self.auth.user(user_id)
        if user is None:
            raise NotFound("The user no longer exists.", code="user_not_found")
        user.display_name = display_name
        return user

    async def change_password(
        self, user_id: str, current: str, new: str, keep_session: str | None, now: datetime
    ) -> None:
        """Set a new password after checking the current one; every other login ends."""
        user = await self.auth.user(user_id)
        if user is None or not verify_password(user.password_hash, current):
            raise Forbidden(
                "The current password is wrong; nothing was changed.", code="wrong_password"
            )
        check_password(new)
        user.password_hash = hash_password(new)
        await self.auth.revoke_user_sessions(user_id, now, keep_family=keep_session)

    async def reset_password(self, email: str, new: str, now: datetime) -> User:
        """The server's shell: set a password without the old one; every login ends."""
        user = await self.repo.user_by_email(normalise_email(email))
        if user is None:
            raise NotFound("No user has this email address.", code="user_not_found")
        check_password(new)
        user.password_hash = hash_password(new)
        await self.auth.revoke_user_sessions(user.id, now)
        return user
