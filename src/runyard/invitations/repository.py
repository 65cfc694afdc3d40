"""Queries on team invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update

from runyard.db.repository import Repository
from runyard.models import TeamInvitation


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    return [
        TeamInvitation.accepted_at.is_(None),
        TeamInvitation.revoked_at.is_(None),
        TeamInvitation.expires_at > now,
    ]


class InvitationRepository(Repository):
    async def pending_for(self, team_id: str, email: str, now: datetime) -> TeamInvitation | None:
        return await self.session.scalar(
            select(TeamInvitation)
            .where(
                TeamInvitation.team_id == team_id,
                TeamInvitation.email_address == email,
                *_pending(now),
            )
            .limit(1)
        )

    async def pending_page(
        self, team_id: str, now: datetime, offset: int, limit: int
    ) -> tuple[list[TeamInvitation], int]:
        where = [TeamInvitation.team_id == team_id, *_pending(now)]
        total = await self.session.scalar(
            select(func.count()).select_from(TeamInvitation).where(*where)
        )
        rows = await self.session.scalars(
            select(TeamInvitation)
            .where(*where)
            .order_by(TeamInvitation.created_at, TeamInvitation.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def get(self, team_id: str, invitation_id: str) -> TeamInvitation | None:
        return await self.session.scalar(
            select(TeamInvitation).where(
                TeamInvitation.id == invitation_id, TeamInvitation.team_id == team_id
            )
        )

    async def by_token_hash(self, token_hash: str) -> TeamInvitation | None:
        return await self.session.scalar(
            select(TeamInvitation).where(TeamInvitation.token_hash == token_hash)
        )

    async def claim(self, invitation_id: str, now: datetime) -> bool:
        """Mark a pending invitation accepted; False when another accept (or a revoke) came
        first. One statement, so a token is used once even by two concurrent accepts."""
        result = await self.session.execute(
            update(TeamInvitation)
            .where(TeamInvitation.id == invitation_id, *_pending(now))
            .values(accepted_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
