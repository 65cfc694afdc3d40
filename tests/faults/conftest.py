"""The fault suite (issue 15): real ``runyard serve`` and ``runyard agent`` processes on
PostgreSQL, killed, restarted and loaded on purpose. It runs alone, after the other legs
(``scripts/run-tests.sh``), never beside them: its processes need the machine's cores, and its
liveness checks must not fail because another leg starves them. It runs the issue's counts
(about 3 minutes alone on 2 cores); ``RUNYARD_FAULTS_<NAME>=n`` runs fewer while developing.

Each test gets its own database (on the shared PostgreSQL, or on a throwaway cluster of its
own for the PostgreSQL restart test), its own processes (always stopped, even on failure), and
prints its counts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import (
    REPO,
    SECRET,
    Cluster,
    OwnPostgres,
    create_database,
    drop_database,
    provision_team,
)
from tests.support.databases import PG_ADMIN_DSN

MakeCluster = Callable[..., Cluster]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid:
            item.add_marker(pytest.mark.faults)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def make_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeCluster]:
    made: list[Cluster] = []

    def make(admin_dsn: str = PG_ADMIN_DSN, **env: str) -> Cluster:
        dbname = f"runyard_faults_{os.getpid()}_{len(made)}"
        db_url = create_database(admin_dsn, dbname)
        team = provision_team(db_url)
        logs = tmp_path / f"cluster-{len(made)}"
        logs.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        pythonpath = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH", "")) if p)
        base.update(
            PYTHONPATH=pythonpath,
            RUNYARD_SECRET_KEY=SECRET,
            RUNYARD_DB_URL=db_url,
            RUNYARD_STORAGE="local",
            RUNYARD_LOG_LEVEL="INFO",
            **env,
        )
        cluster = Cluster(admin_dsn, dbname, db_url, team, logs, base)
        made.append(cluster)
        return cluster

    yield make
    failed = getattr(request.node, "rep_call", None)
    for cluster in made:
        cluster.stop_all()
        if failed is not None and failed.failed:
            for proc in cluster.all_procs:
                print(f"----- {proc.name} log (tail) -----\n{proc.log()[-2500:]}")
        drop_database(cluster.admin_dsn, cluster.dbname)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        pg.start()
    except Exception:
        pg.stop()
        raise
    yield pg
    pg.stop()
