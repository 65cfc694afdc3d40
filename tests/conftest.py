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
    drop_pg_database,
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
    # The pid keeps concurrent pytest runs on one machine from dropping each other's database.
    name = f"runyard_test_{_worker()}_{os.getpid()}"
    create_pg_database(name)
    yield name
    drop_pg_database(name)


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


LEGS = (
    "unit",
    "sqlite",
    "postgres",
    "storage-local",
    "storage-s3",
    "e2e-sqlite-local",
    "e2e-postgres-s3",
    "integration",
    "browser",
    "faults",
)


def _leg(nodeid: str) -> str:
    if nodeid.startswith("tests/unit/"):
        return "unit"
    if nodeid.startswith("tests/browser/"):
        return "browser"  # Chromium driving a real `runyard dev` (SQLite + the embedded store)
    if nodeid.startswith("tests/faults/"):
        return "faults"  # PostgreSQL, real processes; run alone by scripts/run-tests.sh
    if "e2e-sqlite-local" in nodeid:
        return "e2e-sqlite-local"
    if "e2e-postgres-s3" in nodeid:
        return "e2e-postgres-s3"
    if nodeid.startswith("tests/acceptance/"):
        return "e2e-sqlite-local"  # `runyard dev` processes: SQLite + the embedded store
    if "/storage/" in nodeid or "storage" in nodeid.split("::")[0].rsplit("/", 1)[-1]:
        if "s3" in nodeid.split("::")[-1]:
            return "storage-s3"
        if "local" in nodeid.split("::")[-1] or "local" in nodeid:
            return "storage-local"
    if "[postgres" in nodeid or "-postgres" in nodeid:
        return "postgres"
    if "[sqlite" in nodeid or "-sqlite" in nodeid:
        return "sqlite"
    return "integration"  # real servers/processes without a database leg (agent, SDK, ...)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if not nodeid or getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            leg = _leg(nodeid)
            counts.setdefault(leg, {}).setdefault(outcome, 0)
            counts[leg][outcome] += 1
    terminalreporter.section("test legs")
    for leg in LEGS:
        c = counts.get(leg, {})
        terminalreporter.write_line(
            f"{leg:18} passed={c.get('passed', 0):4} failed={c.get('failed', 0)} "
            f"errors={c.get('error', 0)} skipped={c.get('skipped', 0)}"
        )
