"""The one Alembic tree: empty to head on SQLite and PostgreSQL, and the models match it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import runyard.models  # noqa: F401
from runyard.db.base import Base
from runyard.migrations import upgrade
from tests.support.databases import create_pg_database, drop_pg_database


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _check(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff), await conn.run_sync(_tables)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_empty_to_head_and_models_equal_migrations(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        upgrade(url)
        upgrade(url)  # re-running is a no-op
        name = None
    else:
        name = f"runyard_migrations_{os.getpid()}"
        url = create_pg_database(name)  # runs the migrations from empty
    try:
        diff, tables = asyncio.run(_check(url))
        assert diff == [], f"models and migrations differ: {diff}"
        assert {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"} == tables
    finally:
        if name:
            drop_pg_database(name)
