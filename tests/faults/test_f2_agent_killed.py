"""F2: an agent killed (SIGKILL) mid-task. Its tasks complete on another agent with
``retry_count`` 1; the other agent's tasks are untouched; no attempt runs twice."""

from __future__ import annotations

import time

from tests.faults.conftest import MakeCluster
from tests.faults.harness import Submitter, size, summarise

HEARTBEATS = {
    # A lost agent is found in 3 s instead of 15 s; everything else keeps its default.
    "RUNYARD_SCHEDULER_HEARTBEAT_INTERVAL": "1",
    "RUNYARD_SCHEDULER_HEARTBEAT_MISSES": "3",
    "RUNYARD_SCHEDULER_RESTART_GRACE": "3",
}


def test_f2_a_killed_agents_tasks_complete_elsewhere(make_cluster: MakeCluster) -> None:
    per_agent = size("F2_TASKS", 6)
    cluster = make_cluster(**HEARTBEATS)
    cluster.start_server()
    victim = cluster.start_agent("victim", capacity=per_agent)
    cluster.wait_agents(["victim"])
    # Attempt 1 outlasts the test (the agent is killed during it); attempt 2 is short.
    first = Submitter(
        [cluster.url()], cluster.headers(), {"seconds": 1, "first_attempt_seconds": 300}
    )
    first.run(per_agent)
    doomed = set(first.accepted.values())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = cluster.tasks()
        if all(rows[t].task_status == "running" and rows[t].agent_id == "victim" for t in doomed):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the victim never ran all {per_agent} tasks: {cluster.tasks()}")
    cluster.start_agent("survivor", capacity=per_agent)
    cluster.wait_agents(["survivor"])
    second = Submitter([cluster.url()], cluster.headers(), {"seconds": 1})
    second.run(per_agent)
    spared = set(second.accepted.values())
    victim.signal(9)
    victim.wait(10)
    killed_at = time.monotonic()
    rows = cluster.wait_finished(doomed | spared, timeout=90)
    settled = time.monotonic() - killed_at
    runs = cluster.executions()
    twice = [f"task {t} attempt {a} started by {w}" for (t, a), w in runs.items() if len(w) > 1]
    print(
        f"\nF2: agents 2 (1 killed), tasks {len(doomed) + len(spared)} "
        f"({len(doomed)} running on the killed agent), executions "
        f"{sum(len(w) for w in runs.values())}, attempts started twice {len(twice)}, "
        f"retries {sum(rows[t].retry_count for t in doomed | spared)}, "
        f"all settled {settled:.1f} s after the kill"
    )
    assert not first.refused and not second.refused, (first.refused, second.refused)
    assert not twice, "attempts started more than once:" + summarise(twice)
    wrong = []
    for t in sorted(doomed):
        r = rows[t]
        attempts = {a: runs.get((t, a), []) for a in range(1, r.attempt + 1)}
        if (r.task_status, r.agent_id, r.retry_count) != ("completed", "survivor", 1):
            wrong.append(
                f"task {t} (on the killed agent): {r.task_status} on {r.agent_id} "
                f"retry_count {r.retry_count} attempt {r.attempt} "
                f"{r.task_error_code or ''} executions {attempts}"
            )
    for t in sorted(spared):
        r = rows[t]
        if (r.task_status, r.retry_count) != ("completed", 0):
            wrong.append(
                f"task {t} (on the surviving agent): {r.task_status} retry_count "
                f"{r.retry_count} attempt {r.attempt} {r.task_error_code or ''}"
            )
    assert not wrong, f"{len(wrong)} task(s) did not end as expected:" + summarise(wrong)
