"""Test databases: SQLite files copied from a migrated template; one PostgreSQL database per
pytest worker, migrated once and truncated between tests."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg

from runyard.db.base import Base
from runyard.migrations import upgrade

PG_ADMIN_DSN = os.environ.get(
    "RUNYARD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{dbname}"


def pg_dsn(dbname: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{dbname}"


async def _recreate(dbname: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbname
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        await conn.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await conn.close()


async def _drop(dbname: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbname
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
    finally:
        await conn.close()


def drop_pg_database(dbname: str) -> None:
    asyncio.run(_drop(dbname))


def create_pg_database(dbname: str) -> str:
    asyncio.run(_recreate(dbname))
    url = pg_url(dbname)
    upgrade(url)
    asyncio.run(_analyze(dbname))
    return url


async def _analyze(dbname: str) -> None:
    conn = await asyncpg.connect(pg_dsn(dbname))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]


async def truncate_pg(dbname: str) -> None:
    conn = await asyncpg.connect(pg_dsn(dbname))
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"
