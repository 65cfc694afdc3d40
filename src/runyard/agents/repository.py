from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, update

from runyard.db.base import UTCDateTime
from runyard.db.repository import Repository
from runyard.models import Agent, Task
from runyard.states import HELD


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

    async def record_heartbeats(self, seen: dict[str, datetime]) -> None:
        """One statement: each connection's agent row gets its last heartbeat (fenced by the
        connection id, so a replaced or lost connection writes nothing)."""
        when = case({cid: literal_at(at) for cid, at in seen.items()}, value=Agent.connection_id)
        await self.session.execute(
            update(Agent)
            .where(Agent.connection_id.in_(list(seen)))
            .values(last_heartbeat=when)
            .execution_options(synchronize_session=False)
        )

    async def held_counts(self, team_id: str, agent_ids: Iterable[str]) -> dict[str, int]:
        """How many tasks each agent holds (queued or running): its used capacity."""
        ids = list(agent_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Task.agent_id, func.count())
            .where(Task.team_id == team_id, Task.agent_id.in_(ids), Task.task_status.in_(HELD))
            .group_by(Task.agent_id)
        )
        return {str(a): int(n) for a, n in rows.tuples()}


def literal_at(at: datetime) -> Any:
    return bindparam(None, at, type_=UTCDateTime())
