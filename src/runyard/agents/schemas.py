from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from runyard.pagination import PageMeta

AgentStatus = Literal["idle", "busy", "unhealthy", "tunnel"]
SyncPhase = Literal["idle", "syncing", "failed"]


class AgentRead(BaseModel):
    agent_id: str
    agent_labels: list[str]
    agent_status: AgentStatus = Field(
        description="idle: free capacity; busy: full or draining; tunnel: an exclusive "
        "tunnel is open (it takes no tasks); unhealthy: its runtime is failing or it is not "
        "connected (see `connected`)."
    )
    connected: bool
    running_tasks: int
    capacity: int
    last_heartbeat: datetime | None
    agent_version: str
    system_info: dict[str, Any]
    connected_at: datetime | None
    sync_phase: SyncPhase | None = Field(
        default=None,
        description="The team's model library on this agent: idle (it has the active set), "
        "syncing (downloading), failed (see sync_detail); null: the agent does not sync it "
        "(no --comfyui-dir, or an older agent).",
    )
    sync_percent: float | None = Field(
        default=None, description="Share of this sync's bytes on disk, 0 to 100."
    )
    sync_detail: str | None = Field(
        default=None, description="What the sync does or why it failed."
    )
    synced_models: list[str] = Field(
        default_factory=list, description="Ids of the library models this agent holds."
    )
    synced_node_packages: list[str] = Field(
        default_factory=list,
        description="Ids of the custom node packages unpacked in this agent's custom_nodes/.",
    )
    tunnel_ports: list[int] = Field(
        default_factory=list, description="Ports on the agent that tunnels may reach."
    )


class AgentList(BaseModel):
    agent_list: list[AgentRead]
    page_meta: PageMeta
