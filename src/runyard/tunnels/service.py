"""Opening, reading and closing tunnels: the rules (the agent's allowed ports, connected,
limits), the one-time browser link, and the agent's ``tunnel`` status while an exclusive
tunnel is open. Services never commit; what must reach a live connection runs after commit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from runyard.agents.repository import AgentRepository
from runyard.auth.security import sha256_hex
from runyard.db.unit import UnitOfWork
from runyard.errors import Conflict, Forbidden, Gone, NotFound
from runyard.models import Agent, Tunnel
from runyard.settings import Settings
from runyard.tunnels.repository import TunnelRepository
from runyard.tunnels.schemas import TunnelCreate, TunnelRead

ENTRY_PATH = "/_runyard/tunnel"


@dataclass(frozen=True)
class TunnelTarget:
    """What a relay needs of a tunnel (read once per session, no row held)."""

    id: str
    team_id: str
    agent_id: str
    port: int
    protocol: str


def target_of(tunnel: Tunnel) -> TunnelTarget:
    return TunnelTarget(tunnel.id, tunnel.team_id, tunnel.agent_id, tunnel.port, tunnel.protocol)


class TunnelService:
    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings
        self.repo = TunnelRepository(uow.session)
        self.agents = AgentRepository(uow.session)

    def read(
        self,
        tunnel: Tunnel,
        entry_token: str | None = None,
        emails: dict[str, str] | None = None,
    ) -> TunnelRead:
        """The API's view; ``emails`` (``TunnelRepository.emails``) names the users."""
        emails = emails or {}
        url = None
        if entry_token and self.settings.tunnel.base_url:
            url = f"{self.settings.tunnel.base_url}{ENTRY_PATH}?token={entry_token}"
        connect_url = None
        if tunnel.protocol == "tcp" and tunnel.tunnel_status == "open":
            base = self.settings.public_url.replace("https://", "wss://", 1)
            base = base.replace("http://", "ws://", 1)
            connect_url = f"{base}/api/v1/tunnels/{tunnel.id}/connect"
        return TunnelRead(
            id=tunnel.id,
            agent_id=tunnel.agent_id,
            port=tunnel.port,
            protocol="tcp" if tunnel.protocol == "tcp" else "http",
            exclusive=tunnel.exclusive,
            tunnel_status="open" if tunnel.tunnel_status == "open" else "closed",
            url=url,
            connect_url=connect_url,
            opened_by=tunnel.opened_by,
            opened_by_email=emails.get(tunnel.opened_by or ""),
            created_at=tunnel.created_at,
            expires_at=tunnel.expires_at,
            sessions_total=tunnel.sessions_total,
            last_used_at=tunnel.last_used_at,
            bytes_to_agent=tunnel.bytes_to_agent or 0,
            bytes_from_agent=tunnel.bytes_from_agent or 0,
            closed_at=tunnel.closed_at,
            close_reason=tunnel.close_reason,
            closed_by=tunnel.closed_by,
            closed_by_email=emails.get(tunnel.closed_by or ""),
        )

    async def read_all(self, tunnels: list[Tunnel]) -> list[TunnelRead]:
        """``read`` each, naming the users who opened and closed them (one query)."""
        users = [t.opened_by for t in tunnels] + [t.closed_by for t in tunnels]
        emails = await self.repo.emails(users)
        return [self.read(t, emails=emails) for t in tunnels]

    async def _agent(self, team_id: str, agent_id: str) -> Agent:
        agent = await self.agents.by_agent_id(team_id, agent_id)
        if agent is None:
            raise NotFound(f"No agent {agent_id!r} in this team.", code="agent_not_found")
        return agent

    async def open(
        self, team_id: str, user_id: str | None, agent_id: str, body: TunnelCreate, now: datetime
    ) -> tuple[Tunnel, str | None]:
        """A new tunnel and, for http, the token of its one-time link."""
        config = self.settings.tunnel
        agent = await self._agent(team_id, agent_id)
        if not agent.connected:
            raise Conflict(
                f"The agent {agent_id!r} is not connected: start it, then open the tunnel.",
                code="agent_not_connected",
            )
        allowed = sorted(agent.tunnel_ports or [])
        port = body.port or (allowed[0] if allowed else 8188)
        if port not in allowed:
            raise Forbidden(
                f"The agent {agent_id!r} does not allow tunnels to port {port} (allowed: "
                f"{', '.join(map(str, allowed)) or 'none'}). Start the agent with "
                f"--tunnel-port {port} to allow it.",
                code="tunnel_port_not_allowed",
            )
        if body.protocol == "http" and not config.base_url:
            raise Conflict(
                "HTTP tunnels need a tunnel origin of their own: set RUNYARD_TUNNEL_BASE_URL "
                '(see docs/operating.md), or open a "tcp" tunnel with `runyard tunnel open`.',
                code="tunnel_origin_not_configured",
            )
        if await self.repo.count_open(team_id, agent_id) >= config.max_per_agent:
            raise Conflict(
                f"The agent {agent_id!r} already has {config.max_per_agent} open tunnels "
                "(RUNYARD_TUNNEL_MAX_PER_AGENT): close one first.",
                code="tunnel_limit_reached",
            )
        if await self.repo.count_open(team_id) >= config.max_per_team:
            raise Conflict(
                f"The team already has {config.max_per_team} open tunnels "
                "(RUNYARD_TUNNEL_MAX_PER_TEAM): close one first.",
                code="tunnel_limit_reached",
            )
        token = secrets.token_urlsafe(32) if body.protocol == "http" else None
        tunnel = Tunnel(
            team_id=team_id,
            agent_id=agent_id,
            port=port,
            protocol=body.protocol,
            exclusive=body.exclusive,
            tunnel_status="open",
            opened_by=user_id,
            entry_token_hash=sha256_hex(token) if token else None,
            entry_expires_at=now + timedelta(seconds=config.entry_ttl) if token else None,
            created_at=now,
            expires_at=now + timedelta(seconds=config.idle_timeout),
            sessions_total=0,
        )
        self.repo.add(tunnel)
        if body.exclusive:
            agent.tunnel_exclusive = True
        await self.repo.flush()
        return tunnel, token

    async def get(self, team_id: str, tunnel_id: str) -> Tunnel:
        tunnel = await self.repo.get(team_id, tunnel_id)
        if tunnel is None:
            raise NotFound(f"No tunnel {tunnel_id!r} in this team.", code="tunnel_not_found")
        return tunnel

    async def of_agent(self, team_id: str, agent_id: str) -> list[Tunnel]:
        await self._agent(team_id, agent_id)
        return await self.repo.of_agent(team_id, agent_id)

    async def close(
        self, tunnel: Tunnel, reason: str, now: datetime, by: str | None = None
    ) -> bool:
        """Close (idempotent); True when this call closed it (``by``: the user, if one did).
        The agent leaves ``tunnel`` status with its last exclusive tunnel."""
        if tunnel.tunnel_status != "open":
            return False
        tunnel.tunnel_status = "closed"
        tunnel.closed_at = now
        tunnel.close_reason = reason[:500]
        tunnel.closed_by = by
        tunnel.entry_token_hash = None
        if tunnel.exclusive:
            await self.repo.flush()
            still = [t for t in await self.repo.open_of_agent(tunnel.team_id, tunnel.agent_id)]
            agent = await self.agents.by_agent_id(tunnel.team_id, tunnel.agent_id)
            if agent is not None and not any(t.exclusive for t in still):
                agent.tunnel_exclusive = False
                self.uow.wake_dispatcher()
        await self.repo.flush()
        return True

    async def redeem(self, token: str, now: datetime) -> Tunnel:
        """The tunnel a one-time link opens; the link is spent."""
        tunnel = await self.repo.by_entry_hash(sha256_hex(token))
        if tunnel is None or tunnel.entry_expires_at is None:
            raise Gone(
                "This tunnel link was used already or is unknown: open the tunnel again from "
                "the dashboard.",
                code="tunnel_link_expired",
            )
        expired = tunnel.entry_expires_at < now
        tunnel.entry_token_hash = None
        tunnel.entry_expires_at = None
        if expired or tunnel.tunnel_status != "open":
            raise Gone(
                "This tunnel link expired: open the tunnel again from the dashboard.",
                code="tunnel_link_expired",
                commit_first=True,
            )
        return tunnel
