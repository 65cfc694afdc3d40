from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base, UTCDateTime, new_id, utcnow


class Tunnel(Base):
    """A tunnel to a port on an agent's 127.0.0.1, and its audit trail: who opened which port
    when, how it was used, and when and why it closed."""

    __tablename__ = "tunnels"
    __table_args__ = (
        Index("ix_tunnels_team_agent_status", "team_id", "agent_id", "tunnel_status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(String(200))
    port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(8))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    tunnel_status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # sha256 of the one-time link's token (HTTP tunnels), until used or expired.
    entry_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    entry_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Pushed forward while sessions are live; past it an idle tunnel is closed.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sessions_total: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The audit trail beyond the open and the close: who closed it (a user; none when the
    # server did: idle), when a session last used it, and the bytes its sessions relayed
    # (counted where the user arrived, written every RUNYARD_TUNNEL_SWEEP_INTERVAL).
    closed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    bytes_to_agent: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_agent: Mapped[int] = mapped_column(BigInteger, default=0)
