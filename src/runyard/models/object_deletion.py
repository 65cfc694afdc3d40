from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from runyard.db.base import Base, UTCDateTime, new_id, utcnow


class ObjectDeletion(Base):
    """Stored objects to remove: every object under a prefix (a key ending in ``/``), one
    object, or an unfinished multipart upload (``upload_id`` set: aborted).

    Written in the transaction that drops the rows naming the objects (a team's deletion), so
    nothing is forgotten; removed from the store after that commit and retried by the sweeper.
    A row is done after a pass that succeeded at or after ``final_after`` (the longest life of
    an upload URL handed out before: an upload still under way lands after the first pass).
    """

    __tablename__ = "object_deletions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    object_key: Mapped[str] = mapped_column(String(1024))
    #: Set for an unfinished multipart upload: it is aborted instead of deleted.
    upload_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    final_after: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
