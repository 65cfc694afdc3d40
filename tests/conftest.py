"""Fixtures for every leg. Database-backed tests run on SQLite and on PostgreSQL (the
``db_url`` fixture is parametrised); PostgreSQL must answer or the run fails."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.app import Harness, Team, make_settings, running_app
from tests.support.databases import (
    create_pg_database,
    pg_url,
    sqlite_copy,
    sqlite_template,
    truncate_pg,
)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    name = f"runyard_test_{_worker()}"
    create_pg_database(name)
    yield name


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        return sqlite_copy(template, tmp_path / "test.db")
    name = request.getfixturevalue("_pg_database")
    asyncio.run(truncate_pg(name))
    return pg_url(name)


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(make_settings(db_url, tmp_path / "data")) as h:
        yield h


@pytest.fixture
async def team_a(harness: Harness) -> Team:
    return await harness.team("alpha", "alice@example.com")


@pytest.fixture
async def team_b(harness: Harness) -> Team:
    return await harness.team("beta", "bob@example.com")
