"""Accounts and membership rules. Never commits; the request or command that owns the work does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.security import hash_password
from runyard.db.base import new_id
from runyard.errors import Conflict, NotFound, Unprocessable
from runyard.models import Membership, Team, User
from runyard.teams.repository import TeamRepository


class TeamService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = TeamRepository(session)

    async def members(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Membership, User]], int]:
        return await self.repo.members(team_id, offset, limit)

    async def create_user(self, email: str, password: str, display_name: str = "") -> User:
        email = email.strip().lower()
        if "@" not in email:
            raise Unprocessable("email_address must be an email address.", code="invalid_email")
        if len(password) < 8:
            raise Unprocessable("The password needs at least 8 characters.", code="weak_password")
        if await self.repo.user_by_email(email) is not None:
            raise Conflict(f"A user with the email {email} exists.", code="user_exists")
        user = User(
            id=new_id(),
            email_address=email,
            display_name=display_name,
            password_hash=hash_password(password),
        )
        self.repo.add(user)
        await self.repo.flush()
        return user

    async def create_team(self, owner_id: str, display_name: str) -> Team:
        team = Team(id=new_id(), display_name=display_name)
        self.repo.add(team)
        await self.repo.flush()
        self.repo.add(Membership(team_id=team.id, user_id=owner_id, role="owner"))
        await self.repo.flush()
        return team

    async def add_member(self, team_id: str, email: str, role: str) -> tuple[Membership, User]:
        user = await self.repo.user_by_email(email.strip())
        if user is None:
            raise NotFound(
                "No user has this email address; they must have an account first.",
                code="user_not_found",
            )
        if await self.repo.membership(team_id, user.id) is not None:
            raise Conflict("This user is already a member of the team.", code="already_member")
        membership = Membership(team_id=team_id, user_id=user.id, role=role)
        self.repo.add(membership)
        await self.repo.flush()
        return membership, user

    async def _existing(self, team_id: str, user_id: str) -> Membership:
        membership = await self.repo.membership(team_id, user_id)
        if membership is None:
            raise NotFound("No such member in this team.", code="member_not_found")
        if membership.role == "owner":
            raise Conflict("The team's owner cannot be changed or removed.", code="owner_immutable")
        return membership

    async def change_role(self, team_id: str, user_id: str, role: str) -> Membership:
        membership = await self._existing(team_id, user_id)
        membership.role = role
        return membership

    async def remove_member(self, team_id: str, user_id: str) -> None:
        await self._existing(team_id, user_id)
        await self.repo.remove_member(team_id, user_id)
