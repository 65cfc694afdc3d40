"""The SQLite database (password and key hashes, emails, run parameters) and its WAL are
owner-only, and so is a data directory the server creates."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from sqlalchemy import text

from runyard.db.engine import Database
from runyard.migrations import upgrade
from runyard.settings import DatabaseSettings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    db_path = data / "runyard.db"
    url = f"sqlite+aiosqlite:///{db_path}"
    upgrade(url)
    assert mode(data) == 0o700
    assert mode(db_path) == 0o600

    async def write() -> None:
        db = Database(DatabaseSettings(url=url))
        try:
            async with db.session() as session:
                await session.execute(text("DELETE FROM teams"))
                await session.commit()
                wal = Path(f"{db_path}-wal")
                assert wal.exists() and mode(wal) == 0o600
        finally:
            await db.dispose()

    asyncio.run(write())


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{db_path}"
    upgrade(url)
    db_path.chmod(0o644)
    Database(DatabaseSettings(url=url))  # what every server start does
    assert mode(db_path) == 0o600
