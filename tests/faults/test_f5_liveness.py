"""F5: no-op tasks at full load with the default timers. No live agent is declared lost: no
task fails ``agent_lost``, none uses a retry, no agent connection is closed for silence.

The issue's 2,000 tasks (fewer while developing: ``RUNYARD_FAULTS_F5_TASKS``)."""

from __future__ import annotations

import time

from tests.faults.conftest import MakeCluster
from tests.faults.harness import Submitter, size, summarise


def test_f5_no_live_agent_is_declared_lost_under_load(make_cluster: MakeCluster) -> None:
    count = size("F5_TASKS", 2000)
    cluster = make_cluster()
    server = cluster.start_server()
    agent_ids = ["busy-1", "busy-2"]
    for agent_id in agent_ids:
        cluster.start_agent(agent_id, capacity=8)
    cluster.wait_agents(agent_ids)
    submitter = Submitter([cluster.url()], cluster.headers(), {"seconds": 0})
    started = time.monotonic()
    submitter.run(count, threads=4)
    accepted = set(submitter.accepted.values())
    rows = cluster.wait_finished(accepted, timeout=120 + count / 5)
    elapsed = time.monotonic() - started
    server_log = server.log()
    silence_closes = {
        agent_id: cluster.agents[agent_id].log().count("code 4001") for agent_id in agent_ids
    }
    lost_lines = [
        line
        for line in server_log.splitlines()
        if "retry" in line and ("ack timeout" in line or "lost" in line or "Agent" in line)
    ]
    bad = [
        f"task {t}: {r.task_status} retry_count {r.retry_count} attempt {r.attempt} "
        f"{r.task_error_code or ''} {r.task_error[:120]}"
        for t in sorted(accepted)
        if (r := rows[t]).task_status != "completed" or r.retry_count
    ]
    print(
        f"\nF5: tasks {count}, agents {len(agent_ids)} (capacity 8 each), completed "
        f"{sum(1 for t in accepted if rows[t].task_status == 'completed')}, "
        f"agent_lost {sum(1 for t in accepted if rows[t].task_error_code == 'agent_lost')}, "
        f"retries {sum(rows[t].retry_count for t in accepted)}, "
        f"silence closes (4001) {silence_closes}, took {elapsed:.1f} s"
    )
    assert not submitter.refused, submitter.refused
    assert not any(silence_closes.values()), (
        f"live agents were closed for silence (4001): {silence_closes}"
    )
    assert not bad, (
        f"{len(bad)} task(s) failed or used a retry with both agents alive:"
        + summarise(bad)
        + ("\nserver log:" + summarise(lost_lines) if lost_lines else "")
    )
