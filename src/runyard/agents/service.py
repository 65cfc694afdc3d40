"""Agent registration (agent_id bound to its first key), heartbeats, and the API's view."""

from __future__ import annotations

from datetime import datetime

from runyard.agents.repository import AgentRepository
from runyard.agents.schemas import AgentRead, AgentStatus
from runyard.auth.repository import AuthRepository
from runyard.db.base import new_id
from runyard.db.unit import UnitOfWork
from runyard.models import Agent
from runyard_protocol import AgentHello


class AgentIdTaken(Exception):
    """The agent_id is bound to another agent key of the team."""


def status_of(agent: Agent, running: int) -> AgentStatus:
    if not agent.connected or not agent.healthy:
        return "unhealthy"
    if agent.tunnel_exclusive:
        return "tunnel"
    return "busy" if running >= agent.capacity or agent.draining else "idle"


def to_read(agent: Agent, running: int) -> AgentRead:
    sync = (agent.system_info or {}).get("library_sync")
    sync = sync if isinstance(sync, dict) else {}
    return AgentRead(
        sync_phase=sync.get("sync_phase") if sync.get("sync_phase") in SYNC_PHASES else None,
        sync_percent=_number(sync.get("sync_percent")),
        sync_detail=str(sync["sync_detail"])[:2000] if sync.get("sync_detail") else None,
        synced_models=[str(m) for m in sync.get("model_ids") or [] if isinstance(m, str)],
        synced_node_packages=[
            str(p) for p in sync.get("node_package_ids") or [] if isinstance(p, str)
        ],
        agent_id=agent.agent_id,
        agent_labels=list(agent.labels),
        agent_status=status_of(agent, running),
        connected=agent.connected,
        running_tasks=running,
        capacity=agent.capacity,
        last_heartbeat=agent.last_heartbeat,
        agent_version=agent.agent_version,
        system_info=dict(agent.system_info or {}),
        connected_at=agent.connected_at,
        tunnel_ports=list(agent.tunnel_ports or []),
    )


SYNC_PHASES = ("idle", "syncing", "failed")


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(max(0.0, min(100.0, value)))
    return None


class AgentService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = AgentRepository(uow.session)

    async def page(self, team_id: str, offset: int, limit: int) -> tuple[list[AgentRead], int]:
        agents, total = await self.repo.page(team_id, offset, limit)
        counts = await self.repo.held_counts(team_id, [a.agent_id for a in agents])
        return [to_read(a, counts.get(a.agent_id, 0)) for a in agents], total

    async def register(
        self,
        team_id: str,
        key_id: str,
        hello: AgentHello,
        connection_id: str,
        now: datetime,
        *,
        healthy: bool,
        gateway_url: str | None = None,
    ) -> Agent:
        agent = await self.repo.by_agent_id(team_id, hello.agent_id)
        if agent is None:
            agent = Agent(
                id=new_id(),
                team_id=team_id,
                agent_id=hello.agent_id,
                api_key_id=key_id,
                created_at=now,
            )
            self.repo.add(agent)
        elif agent.api_key_id != key_id:
            # The binding stops another key of the team from impersonating this agent; once
            # the bound key is revoked or expired, a new key may take the id over (rotation).
            if await AuthRepository(self.uow.session).key_usable(agent.api_key_id, now):
                raise AgentIdTaken(hello.agent_id)
            agent.api_key_id = key_id
        agent.labels = sorted(set(hello.labels))
        agent.capacity = hello.capacity
        agent.agent_version = hello.agent_version
        agent.runtimes = list(hello.runtimes)
        agent.system_info = dict(hello.system_info)
        agent.healthy = healthy
        agent.draining = False
        agent.connected = True
        agent.connection_id = connection_id
        agent.connected_at = now
        agent.last_heartbeat = now
        agent.tunnel_ports = sorted(set(hello.tunnel_ports))
        agent.gateway_url = gateway_url
        self.uow.wake_dispatcher()
        await self.repo.flush()
        return agent

    async def heartbeat(
        self,
        team_id: str,
        agent_id: str,
        connection_id: str,
        now: datetime,
        *,
        healthy: bool,
        draining: bool,
        system_info: dict[str, object] | None,
    ) -> Agent | None:
        agent = await self.repo.by_agent_id(team_id, agent_id)
        if agent is None or agent.connection_id != connection_id:
            return None
        became_available = (not agent.healthy and healthy) or (agent.draining and not draining)
        agent.last_heartbeat = now
        agent.healthy = healthy
        agent.draining = draining
        agent.connected = True
        if system_info is not None:
            agent.system_info = dict(system_info)
        if became_available:
            self.uow.wake_dispatcher()
        return agent

    async def disconnected(self, team_id: str, agent_id: str, connection_id: str) -> None:
        agent = await self.repo.by_agent_id(team_id, agent_id)
        if agent is not None and agent.connection_id == connection_id:
            agent.connected = False
            agent.connection_id = None
