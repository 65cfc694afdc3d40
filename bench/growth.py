"""G rows (issue 34): cost that does not grow with the backlog, each the ratio of a large size to
a small one measured in this run, against one ``runyard serve`` on PostgreSQL.

- G2: server CPU with 500 open event streams vs 10 (each stream follows its own pending task);
  then the terminal-event latency with 500 open: a task cancelled one at a time, from the
  cancel request to its ``cancelled`` event on its stream (p99);
- G3: server CPU per heartbeat with 300 fake agents (the real protocol, tests/support) beating
  every second;
- G4: ``GET /r/tasks`` page 1 p50 with 100k tasks in the team vs 1k (G4s: filtered by a status
  few tasks have);
- G5: ``POST …/run`` p50 (with an Idempotency-Key, as the SDK sends) with 100k tasks in the team
  vs 1k.

Sizes: ``BENCH_G_STREAMS`` (500), ``BENCH_G_AGENTS`` (300), ``BENCH_G_TASKS`` (100000),
``BENCH_G_SECONDS`` (8, per CPU window). About two minutes in all."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from bench.common import (
    Keys,
    Proc,
    Row,
    env_int,
    free_port,
    pct,
    pg_drop,
    pg_recreate,
    prepare_database,
    say,
    server_env,
    start_server,
)

PG_GROWTH_DB = "runyard_bench_growth"
FILTERED = "/api/v1/r/tasks?task_status=pending"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def cpu_share(pid: int, seconds: float) -> float:
    """The server's CPU over ``seconds`` of wall time, as a share of one core."""
    before, start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - start)


async def submit(client: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = await client.post("/api/v1/r/workflows/slug/noop-bench/run", json={"parameters": {}})
        r.raise_for_status()
        ids.append(r.json()["task_id"])
    return ids


class Stream:
    def __init__(self, client: httpx.AsyncClient, task_id: str) -> None:
        self.task_id = task_id
        self.opened = asyncio.Event()
        self.ended_at: float | None = None
        self.task = asyncio.create_task(self._follow(client))

    async def _follow(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"/api/v1/r/tasks/{self.task_id}/events") as r:
            async for line in r.aiter_lines():
                if line.startswith("id:"):
                    self.opened.set()
                if line == "event: cancelled":
                    self.ended_at = time.monotonic()
                    return


async def streams_rows(url: str, keys: Keys, pid: int, n: int, seconds: float) -> list[Row]:
    headers = {"Authorization": f"Bearer {keys.integration_key}"}
    limits = httpx.Limits(max_connections=n + 20, max_keepalive_connections=n + 20)
    timeout = httpx.Timeout(60, read=None)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        task_ids = await submit(client, n)
        share: dict[int, float] = {}
        streams: list[Stream] = []
        for size in (10, n):
            streams += [Stream(client, t) for t in task_ids[len(streams) : size]]
            await asyncio.gather(*(s.opened.wait() for s in streams))
            await asyncio.sleep(1.0)
            share[size] = await cpu_share(pid, seconds)
        waits = []
        for s in streams[:100]:
            start = time.monotonic()
            r = await client.post(f"/api/v1/r/tasks/{s.task_id}/cancel")
            r.raise_for_status()
            await asyncio.wait_for(s.task, 30)
            assert s.ended_at is not None
            waits.append((s.ended_at - start) * 1000)
        for s in streams:
            s.task.cancel()
        await asyncio.gather(*(s.task for s in streams), return_exceptions=True)
    ratio = share[n] / max(share[10], 0.01)
    p99 = pct(waits, 0.99)
    return [
        Row(
            "G2",
            f"server CPU with {n} open event streams vs 10",
            f"{share[n] * 100:.1f} % vs {share[10] * 100:.1f} % = {ratio:.2f}x",
            "<= 3x",
            3 / ratio,
            ratio <= 3,
        ),
        Row(
            "G2",
            f"cancel -> terminal event on its stream p99, {n} streams open",
            f"{p99:.1f} ms (p50 {pct(waits, 0.5):.1f})",
            "<= 100 ms",
            100 / p99,
            p99 <= 100,
        ),
    ]


async def heartbeat_rows(url: str, keys: Keys, pid: int, n: int, seconds: float) -> list[Row]:
    from tests.support.fake_agent import FakeAgent

    agents = [FakeAgent(url, keys.agent_key, f"beat-{i}") for i in range(n)]
    for i in range(0, n, 25):
        await asyncio.gather(*(a.connect() for a in agents[i : i + 25]))
    try:
        await asyncio.sleep(2.0)
        sent = sum(a.heartbeats_sent for a in agents)
        share = await cpu_share(pid, seconds)
        beats = sum(a.heartbeats_sent for a in agents) - sent
        per_beat = share * seconds / max(beats, 1) * 1000
        at_default = per_beat * n / 5.0 / 10  # % of a core at the default 5 s interval
        return [
            Row(
                "G3",
                f"server CPU per heartbeat, {n} agents (1 s interval)",
                f"{per_beat:.2f} ms ({beats / seconds:.0f}/s, {share * 100:.1f} % CPU)",
                "<= 0.83 ms",
                0.83 / per_beat,
                per_beat <= 0.83,
            ),
            Row("G3", f"  info: {n} agents at the default 5 s interval", f"{at_default:.1f} % CPU"),
        ]
    finally:
        await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)


async def list_p50(url: str, keys: Keys, path: str = "/api/v1/r/tasks", runs: int = 60) -> float:
    headers = {"Authorization": f"Bearer {keys.integration_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        times = []
        for _ in range(runs):
            start = time.monotonic()
            (await client.get(path)).raise_for_status()
            times.append((time.monotonic() - start) * 1000)
    return pct(times[5:], 0.5)


async def run_p50(url: str, keys: Keys, runs: int = 60) -> float:
    headers = {"Authorization": f"Bearer {keys.integration_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        times = []
        for _ in range(runs):
            start = time.monotonic()
            r = await client.post(
                "/api/v1/r/workflows/slug/noop-bench/run",
                json={"parameters": {}},
                headers={"Idempotency-Key": os.urandom(12).hex()},
            )
            r.raise_for_status()
            times.append((time.monotonic() - start) * 1000)
    return pct(times[5:], 0.5)


async def grow(dsn: str, team_id: str, total: int) -> None:
    """Copy one finished task of the team until it has ``total`` tasks."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM tasks WHERE team_id = $1", team_id)
        await conn.execute(
            """INSERT INTO tasks (id, team_id, workflow_id, workflow_slug, workflow_version,
                   task_status, progress, parameters, required_labels, task_timeout,
                   max_retries, task_error, retry_count, attempt, created_at, event_seq,
                   priority, tool_type, requirement_key, rank_at)
               SELECT gen_random_uuid()::text, team_id, workflow_id, workflow_slug,
                   workflow_version, 'completed', 1.0, parameters, required_labels,
                   task_timeout, max_retries, '', 0, 1,
                   created_at - g * interval '1 millisecond', 0, priority, tool_type,
                   requirement_key, created_at - g * interval '1 millisecond'
               FROM (SELECT * FROM tasks WHERE team_id = $1 LIMIT 1) t,
                   generate_series(1, $2) g""",
            team_id,
            max(0, total - have),
        )
        await conn.execute("ANALYZE tasks")
    finally:
        await conn.close()


def g_rows() -> list[Row]:
    streams = env_int("BENCH_G_STREAMS", 500)
    n_agents = env_int("BENCH_G_AGENTS", 300)
    big = env_int("BENCH_G_TASKS", 100_000)
    seconds = float(env_int("BENCH_G_SECONDS", 8))
    work = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    dsn = pg_recreate(PG_GROWTH_DB)
    db_url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    keys = prepare_database(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows: list[Row] = []
    server: Proc | None = None
    try:
        env = server_env(
            db_url,
            work / "data",
            port,
            RUNYARD_SCHEDULER_HEARTBEAT_INTERVAL="1",
            RUNYARD_RATE_LIMIT_ENABLED="false",  # 300 agents connect with one key
        )
        server = start_server("serve-growth", env, port, work)
        say(f"G2: {streams} event streams")
        rows += asyncio.run(streams_rows(url, keys, server.pid, streams, seconds))
        say(" / ".join(r.measured for r in rows))
        say(f"G3: {n_agents} agents heartbeating")
        rows += asyncio.run(heartbeat_rows(url, keys, server.pid, n_agents, seconds))
        say(" / ".join(r.measured for r in rows[2:]))
        say(f"G4: list at 1k and {big} tasks")
        asyncio.run(grow(dsn, keys.team_id, 1000))
        small = asyncio.run(list_p50(url, keys))
        small_filtered = asyncio.run(list_p50(url, keys, FILTERED))
        small_run = asyncio.run(run_p50(url, keys))
        asyncio.run(grow(dsn, keys.team_id, big))
        large = asyncio.run(list_p50(url, keys))
        large_filtered = asyncio.run(list_p50(url, keys, FILTERED))
        large_run = asyncio.run(run_p50(url, keys))
        for name, what, big_ms, small_ms in (
            ("G4", "GET /r/tasks page 1 p50", large, small),
            ("G4s", "GET /r/tasks?task_status=pending p50", large_filtered, small_filtered),
            ("G5", "POST .../run p50 (Idempotency-Key)", large_run, small_run),
        ):
            ratio = big_ms / small_ms
            rows.append(
                Row(
                    name,
                    f"{what}, {big // 1000}k tasks vs 1k",
                    f"{big_ms:.1f} vs {small_ms:.1f} ms = {ratio:.2f}x",
                    "<= 1.5x",
                    1.5 / ratio,
                    ratio <= 1.5,
                )
            )
    finally:
        if server is not None:
            server.stop()
        pg_drop(PG_GROWTH_DB)
    return rows
