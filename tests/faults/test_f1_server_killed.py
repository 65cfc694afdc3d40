"""F1: the server is killed (SIGKILL) again and again while runs are submitted, each with its
own Idempotency-Key and retried on connection errors. Every accepted run becomes exactly one
task, every task completes, no attempt runs twice, and, since no agent dies, no task uses a
retry.

The issue's 1,000 runs and 10 kills (fewer while developing: ``RUNYARD_FAULTS_F1_RUNS``,
``RUNYARD_FAULTS_F1_KILLS``)."""

from __future__ import annotations

import random
import time

from tests.faults.conftest import MakeCluster
from tests.faults.harness import Submitter, in_background, size, summarise


def test_f1_server_killed_under_submissions(make_cluster: MakeCluster) -> None:
    runs = size("F1_RUNS", 1000)
    kills_wanted = size("F1_KILLS", 10)
    cluster = make_cluster()
    cluster.start_server()
    for agent_id in ("a1", "a2"):
        cluster.start_agent(agent_id, capacity=4)
    cluster.wait_agents(["a1", "a2"])
    submitter = Submitter([cluster.url()], cluster.headers(), {"seconds": 0})
    submitting = in_background(lambda: submitter.run(runs, threads=2, pace=0.02))
    kills = 0
    rng = random.Random(15)
    while kills < kills_wanted:  # also after the last submission: tasks are still running
        time.sleep(rng.uniform(1.0, 3.0))
        cluster.kill_server()
        kills += 1
        cluster.start_server()
    submitting.join(300)
    accepted = set(submitter.accepted.values())
    rows = cluster.wait_finished(accepted, timeout=120 + runs / 5)
    runs_seen = cluster.executions()
    twice = [
        f"task {t} attempt {a} started {len(who)} times (agents {who})"
        for (t, a), who in runs_seen.items()
        if len(who) > 1
    ]
    duplicates = sorted(set(rows) - accepted)
    unfinished = [
        f"task {t}: {rows[t].task_status if t in rows else 'missing'}"
        for t in sorted(accepted)
        if t not in rows or rows[t].task_status != "completed"
    ]
    retried = []
    for t in sorted(accepted):
        r = rows.get(t)
        if r is None or r.retry_count == 0:
            continue
        first = runs_seen.get((t, 1), [])
        why = (
            f"attempt 1 ran on {first[0]} and was retried anyway (its outcome was lost)"
            if first
            else "attempt 1 never started on any agent (its assignment was lost)"
        )
        started = {a: runs_seen.get((t, a), []) for a in range(1, r.attempt + 1)}
        retried.append(
            f"task {t}: {r.task_status} retry_count {r.retry_count} attempt {r.attempt} "
            f"{r.task_error_code or ''}: {why}; agents that started each attempt {started}"
        )
    print(
        f"\nF1: runs {runs}, accepted {len(accepted)} (replayed answers {submitter.replayed}), "
        f"refused {len(submitter.refused)}, submitter retries {submitter.retries}, "
        f"server kills {kills}, tasks in the database {len(rows)} "
        f"(duplicates {len(duplicates)}), completed "
        f"{sum(1 for t in accepted if t in rows and rows[t].task_status == 'completed')}, "
        f"executions {sum(len(w) for w in runs_seen.values())}, "
        f"attempts started twice {len(twice)}, tasks retried {len(retried)}"
    )
    assert kills >= 1
    assert not submitter.refused, "runs refused:" + summarise(
        [f"{k}: {v}" for k, v in submitter.refused.items()]
    )
    assert len(accepted) == runs, f"{runs} runs but {len(accepted)} distinct tasks accepted"
    assert not duplicates, (
        f"{len(duplicates)} task(s) nobody was answered for (a retried submit created a second "
        "task):" + summarise(duplicates)
    )
    assert not twice, "attempts started more than once:" + summarise(twice)
    assert not unfinished, f"{len(unfinished)} accepted task(s) did not complete:" + summarise(
        unfinished
    )
    assert not retried, f"{len(retried)} task(s) used a retry although no agent died:" + summarise(
        retried
    )
