from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base


class RateLimitCounter(Base):
    """One fixed-window counter of the shared rate limiter (login, agent connects), so every
    server process counts against the same budget. ``expires_at`` is Unix seconds."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
