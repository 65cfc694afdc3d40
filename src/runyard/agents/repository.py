from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import Agent, Task


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

    async def running_counts(self, team_id: str, agent_ids: Iterable[str]) -> dict[str, int]:
        ids = list(agent_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Task.agent_id, func.count())
            .where(
                Task.team_id == team_id,
                Task.agent_id.in_(ids),
                Task.task_status.in_(("queued", "running")),
            )
            .group_by(Task.agent_id)
        )
        return {str(a): int(n) for a, n in rows.tuples()}

    async def connected(self, team_id: str | None = None) -> list[Agent]:
        stmt = select(Agent).where(Agent.connected.is_(True))
        if team_id is not None:
            stmt = stmt.where(Agent.team_id == team_id)
        return list(await self.session.scalars(stmt))

    async def silent_since(self, before: datetime) -> list[Agent]:
        """Agents whose last heartbeat is older than ``before`` and that still hold tasks."""
        holding = (
            select(Task.id)
            .where(
                Task.team_id == Agent.team_id,
                Task.agent_id == Agent.agent_id,
                Task.task_status.in_(("queued", "running")),
            )
            .exists()
        )
        return list(
            await self.session.scalars(select(Agent).where(Agent.last_heartbeat < before, holding))
        )
