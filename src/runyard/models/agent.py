from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base, UTCDateTime, new_id, utcnow


class Agent(Base):
    """A worker machine; its ``agent_id`` is bound to the ``ak-`` key that first registered it."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("team_id", "agent_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(String(200))
    api_key_id: Mapped[str] = mapped_column(String(36))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    runtimes: Mapped[list[str]] = mapped_column(JSON, default=list)
    system_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    connection_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Tunnels: the ports the agent allows, the internal URL of the server process holding its
    # connection (the hop, docs/architecture.md), and whether an exclusive tunnel is open.
    tunnel_ports: Mapped[list[int]] = mapped_column(JSON, default=list)
    gateway_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    tunnel_exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
