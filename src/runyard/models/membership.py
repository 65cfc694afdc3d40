from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base, UTCDateTime, utcnow


class Membership(Base):
    __tablename__ = "memberships"

    team_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # owner | admin | member | viewer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
