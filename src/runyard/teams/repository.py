from __future__ import annotations

from sqlalchemy import delete, func, select

from runyard.db.repository import Repository
from runyard.models import Membership, Team, User


class TeamRepository(Repository):
    async def team(self, team_id: str) -> Team | None:
        return await self.session.get(Team, team_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_address == email.lower()))

    async def membership(self, team_id: str, user_id: str) -> Membership | None:
        return await self.session.get(Membership, (team_id, user_id))

    async def members(
        self, team_id: str, offset: int, limit: int
    ) -> tuple[list[tuple[Membership, User]], int]:
        total = await self.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.team_id == team_id)
        )
        rows = await self.session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.team_id == team_id)
            .order_by(Membership.created_at, User.id)
            .offset(offset)
            .limit(limit)
        )
        return [(m, u) for m, u in rows.tuples()], int(total or 0)

    async def remove_member(self, team_id: str, user_id: str) -> None:
        await self.session.execute(
            delete(Membership).where(Membership.team_id == team_id, Membership.user_id == user_id)
        )

    async def delete_team(self, team_id: str) -> None:
        """Delete the team's row; the foreign keys cascade to everything it owns."""
        await self.session.execute(
            delete(Team).where(Team.id == team_id).execution_options(synchronize_session=False)
        )
        self.session.expunge_all()  # the rows just loaded are gone with the team
