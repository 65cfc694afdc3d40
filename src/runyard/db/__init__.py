"""Database machinery: declarative base, engine construction, the unit of work, shared column
types and the repository base."""

from runyard.db.base import Base, UTCDateTime, new_id, utcnow
from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork

__all__ = ["Base", "Database", "UTCDateTime", "UnitOfWork", "new_id", "utcnow"]
