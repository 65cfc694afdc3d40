"""F4: PostgreSQL restarts under load (a throwaway cluster of the suite's own, on another port,
so the shared one is never touched). The server processes recover without being restarted:
they still run and answer ``/healthz``, every accepted run completes, no attempt runs twice.

Scaled down for CI: 200 runs and 2 restarts (one ``fast``, one ``immediate``, i.e. crash
recovery); ``RUNYARD_FAULTS_F4_TASKS``, ``RUNYARD_FAULTS_F4_RESTARTS``."""

from __future__ import annotations

import time

import httpx

from tests.faults.conftest import MakeCluster
from tests.faults.harness import OwnPostgres, Submitter, in_background, size, summarise


def test_f4_servers_recover_from_a_postgres_restart(
    own_postgres: OwnPostgres, make_cluster: MakeCluster
) -> None:
    count = size("F4_TASKS", 1000)
    restarts = size("F4_RESTARTS", 3)
    cluster = make_cluster(own_postgres.admin_dsn)
    servers = [cluster.start_server(0), cluster.start_server(1)]
    pids = [s.pid for s in servers]
    cluster.start_agent("pg-0", server=0, capacity=4)
    cluster.start_agent("pg-1", server=1, capacity=4)
    cluster.wait_agents(["pg-0", "pg-1"])
    submitter = Submitter(
        [cluster.url(0), cluster.url(1)], cluster.headers(), {"seconds": 0.2}, give_up_after=180
    )
    submitting = in_background(lambda: submitter.run(count, threads=2, pace=0.05))
    modes = ["fast", "immediate"]
    for n in range(restarts):
        time.sleep(2.0)
        own_postgres.restart(modes[n % len(modes)])
    submitting.join(300)
    accepted = set(submitter.accepted.values())
    rows = cluster.wait_finished(accepted, timeout=120 + count / 5)
    executed = cluster.executions()
    twice = [
        f"task {t} attempt {a} started {len(who)} times (agents {who})"
        for (t, a), who in executed.items()
        if len(who) > 1
    ]
    unfinished = [
        f"task {t}: {rows[t].task_status if t in rows else 'missing'} retry_count "
        f"{rows[t].retry_count if t in rows else '-'} "
        f"{(rows[t].task_error_code or '') if t in rows else ''}"
        for t in sorted(accepted)
        if t not in rows or rows[t].task_status != "completed"
    ]
    health = []
    for i, proc in enumerate(servers):
        try:
            code = httpx.get(cluster.url(i) + "/healthz", timeout=5).status_code
        except httpx.HTTPError as exc:
            code = f"{type(exc).__name__}"  # type: ignore[assignment]
        health.append(f"server {i}: alive {proc.alive()}, healthz {code}")
    duplicates = sorted(set(rows) - accepted)
    print(
        f"\nF4: runs {count}, PostgreSQL restarts {own_postgres.restarts}, accepted "
        f"{len(accepted)}, refused {len(submitter.refused)}, submitter retries "
        f"{submitter.retries}, completed "
        f"{sum(1 for t in accepted if t in rows and rows[t].task_status == 'completed')}, "
        f"duplicates {len(duplicates)}, retries "
        f"{sum(rows[t].retry_count for t in accepted if t in rows)}, executions "
        f"{sum(len(w) for w in executed.values())}, attempts started twice {len(twice)}; "
        + "; ".join(health)
    )
    assert own_postgres.restarts == restarts
    assert [s.pid for s in servers] == pids and all(s.alive() for s in servers), health
    assert all("healthz 200" in h for h in health), health
    assert not submitter.refused, "runs refused:" + summarise(
        [f"{k}: {v}" for k, v in submitter.refused.items()]
    )
    assert not duplicates, f"{len(duplicates)} duplicate task(s):" + summarise(duplicates)
    assert not twice, "attempts started more than once:" + summarise(twice)
    assert not unfinished, f"{len(unfinished)} accepted task(s) did not complete:" + summarise(
        unfinished
    )
