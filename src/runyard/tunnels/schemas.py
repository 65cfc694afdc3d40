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
    opened_by: str | None
    created_at: datetime
    expires_at: datetime = Field(description="When it closes unless a session keeps it open.")
    sessions_total: int
    closed_at: datetime | None
    close_reason: str | None


class TunnelList(BaseModel):
    tunnel_list: list[TunnelRead]
