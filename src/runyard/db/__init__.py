"""Database machinery: declarative base, engine construction, sessions, shared column types."""

from runyard.db.base import Base, UTCDateTime, new_id, utcnow
from runyard.db.engine import Database

__all__ = ["Base", "Database", "UTCDateTime", "new_id", "utcnow"]
