"""One Alembic tree for SQLite and PostgreSQL; ``upgrade(url)`` runs it programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` (an async SQLAlchemy URL) to ``revision``."""
    from runyard.db.engine import secure_sqlite_file

    secure_sqlite_file(url)  # before SQLite creates it with the process umask
    command.upgrade(alembic_config(url), revision)
