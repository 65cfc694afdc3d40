from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TunnelProtocol = Literal["http", "tcp"]
TunnelStatus = Literal["open", "closed"]


class TunnelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The port on the agent's 127.0.0.1. Default: the first port the agent "
        "allows (its ComfyUI's, unless it was started with --tunnel-port).",
    )
    protocol: TunnelProtocol = Field(
        default="http",
        description="http: served at the tunnel origin (HTTP and WebSocket proxied, for a "
        "browser); tcp: raw bytes, forwarded by `runyard tunnel open`.",
    )
    exclusive: bool = Field(
        default=False,
        description="Take the agent out of dispatch (status `tunnel`) until the tunnel closes.",
    )


class TunnelRead(BaseModel):
    id: str
    agent_id: str
    port: int
    protocol: TunnelProtocol
    exclusive: bool
    tunnel_status: TunnelStatus
    url: str | None = Field(
        default=None,
        description="http tunnels, in the answer to the POST only: a one-time link (valid "
        "RUNYARD_TUNNEL_ENTRY_TTL seconds) that opens the tunnel in a browser.",
    )
    connect_url: str | None = Field(
        default=None,
        description="tcp tunnels: the WebSocket each forwarded connection opens "
        "(Authorization as for the API).",
    )
    opened_by: str | None = Field(description="The user who opened it (their id).")
    opened_by_email: str | None = Field(
        default=None, description="That user's email address (none once the user is deleted)."
    )
    created_at: datetime
    expires_at: datetime = Field(description="When it closes unless a session keeps it open.")
    sessions_total: int = Field(
        description="Sessions started: forwarded connections (tcp), browsers let in (http)."
    )
    last_used_at: datetime | None = Field(
        default=None,
        description="When a session last used it (to within RUNYARD_TUNNEL_SWEEP_INTERVAL).",
    )
    bytes_to_agent: int = Field(
        default=0, description="Bytes its sessions sent to the agent's port (to within a sweep)."
    )
    bytes_from_agent: int = Field(
        default=0, description="Bytes the agent's port sent back (to within a sweep)."
    )
    closed_at: datetime | None
    close_reason: str | None
    closed_by: str | None = Field(
        default=None, description="The user who closed it; none when the server did (idle)."
    )
    closed_by_email: str | None = None


class TunnelList(BaseModel):
    tunnel_list: list[TunnelRead]
