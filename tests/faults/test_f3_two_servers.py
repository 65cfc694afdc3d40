"""F3: two server processes share one PostgreSQL; runs are submitted to both and agents are
connected to both. Each attempt of each task is dispatched exactly once (one server's log line,
one ``queued`` event, one agent's execution) and every task completes.

The issue's 2,000 tasks (fewer while developing: ``RUNYARD_FAULTS_F3_TASKS``)."""

from __future__ import annotations

import time

from tests.faults.conftest import MakeCluster
from tests.faults.harness import Submitter, size, summarise


def test_f3_two_servers_dispatch_each_attempt_once(make_cluster: MakeCluster) -> None:
    count = size("F3_TASKS", 2000)
    cluster = make_cluster()
    cluster.start_server(0)
    cluster.start_server(1)
    cluster.start_agent("on-0", server=0, capacity=8)
    cluster.start_agent("on-1", server=1, capacity=8)
    cluster.wait_agents(["on-0", "on-1"])
    submitter = Submitter([cluster.url(0), cluster.url(1)], cluster.headers(), {"seconds": 0})
    started = time.monotonic()
    submitter.run(count, threads=4)
    accepted = set(submitter.accepted.values())
    rows = cluster.wait_finished(accepted, timeout=120 + count / 5)
    elapsed = time.monotonic() - started
    executed = cluster.executions()
    assigned = cluster.assignments()
    queued = cluster.queued_events()
    problems = []
    for t in sorted(accepted):
        r = rows.get(t)
        if r is None or r.task_status != "completed":
            problems.append(f"task {t}: {r.task_status if r else 'missing'}, not completed")
            continue
        if queued[t] != r.attempt:
            problems.append(
                f"task {t}: handed to agents {queued[t]} time(s) (queued events) for "
                f"{r.attempt} attempt(s)"
            )
        for a in range(1, r.attempt + 1):
            servers = assigned.get((t, a), [])
            agents = executed.get((t, a), [])
            if len(servers) > 1:
                problems.append(f"task {t} attempt {a} assigned by {len(servers)}: {servers}")
            if len(agents) > 1:
                problems.append(f"task {t} attempt {a} started {len(agents)} times: {agents}")
    by_server = {i: 0 for i in (0, 1)}
    for servers in assigned.values():
        for name in servers:
            by_server[int(name[len("server")])] += 1
    print(
        f"\nF3: servers 2, agents 2, tasks {count}, accepted {len(accepted)}, completed "
        f"{sum(1 for t in accepted if t in rows and rows[t].task_status == 'completed')}, "
        f"assignments {sum(len(s) for s in assigned.values())} (server 0: {by_server[0]}, "
        f"server 1: {by_server[1]}), executions {sum(len(w) for w in executed.values())}, "
        f"retries {sum(r.retry_count for t, r in rows.items() if t in accepted)}, "
        f"took {elapsed:.1f} s"
    )
    assert not submitter.refused, submitter.refused
    assert len(accepted) == count
    assert not problems, f"{len(problems)} problem(s):" + summarise(problems)
