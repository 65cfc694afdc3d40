from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base, UTCDateTime, new_id, utcnow


class TeamInvitation(Base):
    """An invitation to join a team with a role, accepted by whoever holds its one-time token.

    Only the SHA-256 of the token is stored; the token is in the accept URL shown once (and
    emailed when SMTP is configured). Pending = not accepted, not revoked, not expired.
    """

    __tablename__ = "team_invitations"
    __table_args__ = (Index("ix_team_invitations_team_email", "team_id", "email_address"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    team_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    email_address: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))  # admin | member | viewer
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
