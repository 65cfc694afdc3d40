from __future__ import annotations

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import Agent


class AgentRepository(Repository):
    async def by_agent_id(self, team_id: str, agent_id: str) -> Agent | None:
        return await self.session.scalar(
            select(Agent).where(Agent.team_id == team_id, Agent.agent_id == agent_id)
        )

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[Agent], int]:
        total = await self.session.scalar(
            select(func.count()).select_from(Agent).where(Agent.team_id == team_id)
        )
        rows = await self.session.scalars(
            select(Agent)
            .where(Agent.team_id == team_id)
            .order_by(Agent.agent_id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)

    async def with_labels(self, team_id: str, labels: list[str]) -> list[Agent]:
        """Every agent of the team (connected or not) that has all ``labels``."""
        rows = await self.session.scalars(select(Agent).where(Agent.team_id == team_id))
        needed = set(labels)
        return [a for a in rows if needed <= set(a.labels or [])]

    async def connected(self, team_id: str | None = None) -> list[Agent]:
        stmt = select(Agent).where(Agent.connected.is_(True))
        if team_id is not None:
            stmt = stmt.where(Agent.team_id == team_id)
        return list(await self.session.scalars(stmt))
