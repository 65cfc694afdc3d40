from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update

from runyard.db.repository import Repository
from runyard.models import Agent, Tunnel, User


class TunnelRepository(Repository):
    async def get(self, team_id: str, tunnel_id: str) -> Tunnel | None:
        return await self.session.scalar(
            select(Tunnel).where(Tunnel.team_id == team_id, Tunnel.id == tunnel_id)
        )

    async def by_id(self, tunnel_id: str) -> Tunnel | None:
        return await self.session.get(Tunnel, tunnel_id)

    async def by_entry_hash(self, token_hash: str) -> Tunnel | None:
        return await self.session.scalar(
            select(Tunnel).where(Tunnel.entry_token_hash == token_hash).with_for_update()
        )

    async def of_agent(self, team_id: str, agent_id: str, limit: int = 100) -> list[Tunnel]:
        rows = await self.session.scalars(
            select(Tunnel)
            .where(Tunnel.team_id == team_id, Tunnel.agent_id == agent_id)
            .order_by(Tunnel.tunnel_status.desc(), Tunnel.created_at.desc())
            .limit(limit)
        )
        return list(rows)

    async def count_open(self, team_id: str, agent_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(Tunnel)
        stmt = stmt.where(Tunnel.team_id == team_id, Tunnel.tunnel_status == "open")
        if agent_id is not None:
            stmt = stmt.where(Tunnel.agent_id == agent_id)
        return int(await self.session.scalar(stmt) or 0)

    async def open_of_agent(self, team_id: str, agent_id: str) -> list[Tunnel]:
        rows = await self.session.scalars(
            select(Tunnel).where(
                Tunnel.team_id == team_id,
                Tunnel.agent_id == agent_id,
                Tunnel.tunnel_status == "open",
            )
        )
        return list(rows)

    async def expired(self, now: datetime, limit: int = 100) -> list[Tunnel]:
        rows = await self.session.scalars(
            select(Tunnel)
            .where(Tunnel.tunnel_status == "open", Tunnel.expires_at < now)
            .limit(limit)
        )
        return list(rows)

    async def statuses(self, tunnel_ids: Iterable[str]) -> dict[str, str]:
        ids = list(tunnel_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Tunnel.id, Tunnel.tunnel_status).where(Tunnel.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}

    async def keep_alive(self, tunnel_ids: Iterable[str], until: datetime, now: datetime) -> None:
        """Tunnels with sessions here: in use now, not idle before ``until``."""
        ids = list(tunnel_ids)
        if ids:
            await self.session.execute(
                update(Tunnel)
                .where(Tunnel.id.in_(ids), Tunnel.tunnel_status == "open")
                .values(expires_at=until, last_used_at=now)
                .execution_options(synchronize_session=False)
            )

    async def add_traffic(self, traffic: dict[str, tuple[int, int]]) -> None:
        """Add ``(to_agent, from_agent)`` bytes to each tunnel's totals (open or closed)."""
        for tunnel_id, (to_agent, from_agent) in traffic.items():
            await self.session.execute(
                update(Tunnel)
                .where(Tunnel.id == tunnel_id)
                .values(
                    bytes_to_agent=Tunnel.bytes_to_agent + to_agent,
                    bytes_from_agent=Tunnel.bytes_from_agent + from_agent,
                )
                .execution_options(synchronize_session=False)
            )

    async def emails(self, user_ids: Iterable[str | None]) -> dict[str, str]:
        """The email address of each of these users (deleted ones are left out)."""
        ids = {user_id for user_id in user_ids if user_id}
        if not ids:
            return {}
        rows = await self.session.execute(
            select(User.id, User.email_address).where(User.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}

    async def count_session(self, tunnel_id: str) -> None:
        await self.session.execute(
            update(Tunnel)
            .where(Tunnel.id == tunnel_id)
            .values(sessions_total=Tunnel.sessions_total + 1)
            .execution_options(synchronize_session=False)
        )

    async def exclusive_agents(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of these (team, agent) pairs, those with an exclusive tunnel open."""
        wanted = set(keys)
        if not wanted:
            return set()
        rows = await self.session.execute(
            select(Agent.team_id, Agent.agent_id).where(
                Agent.tunnel_exclusive.is_(True),
                Agent.team_id.in_({team for team, _ in wanted}),
            )
        )
        return {(row[0], row[1]) for row in rows} & wanted
