"""The queries behind the scrape-time gauges, across all teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from runyard.db.repository import Repository
from runyard.models import Task
from runyard.tasks.states import HELD, SCHEDULABLE


class MetricsRepository(Repository):
    async def tasks_by_state(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(Task.task_status, func.count()).group_by(Task.task_status)
        )
        return {str(state): int(n) for state, n in rows.all()}

    async def oldest_schedulable(self) -> datetime | None:
        return await self.session.scalar(
            select(func.min(Task.created_at)).where(Task.task_status.in_(SCHEDULABLE))
        )

    async def held_by_agent(self) -> dict[tuple[str, str], int]:
        """Tasks each agent holds (queued or running), keyed by (team, agent)."""
        rows = await self.session.execute(
            select(Task.team_id, Task.agent_id, func.count())
            .where(Task.task_status.in_(HELD), Task.agent_id.is_not(None))
            .group_by(Task.team_id, Task.agent_id)
        )
        return {(str(team), str(agent)): int(n) for team, agent, n in rows.all()}
