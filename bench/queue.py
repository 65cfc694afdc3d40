"""Runyard's queue rows on real processes: P3 dispatch latency, P4 throughput, P6 footprint.

One stack per database: ``runyard serve`` (and a second one on the same PostgreSQL for the
cross-process latency), two real ``runyard agent`` processes × capacity 4 for throughput, and the
in-process ``BenchAgent`` (label ``bench``, so the real agents never take its tasks) for latency.

Throughput submits with ``wrk`` (20 connections, a Lua script that stops after N responses), so
the load generator does not eat the CPU the server needs; completion is read from the database
every 50 ms.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench.agent import BenchAgent
from bench.common import (
    Keys,
    Proc,
    free_port,
    pct,
    prepare_database,
    rss_mib,
    say,
    server_env,
    start_agent,
    start_server,
    wait_agents,
)

SUBMIT_LUA = """
wrk.method = "POST"
wrk.body = '{"parameters": {"seconds": 0}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer KEY"
local keyed = KEYED
local sent = 0
math.randomseed(os.time())
local prefix = "bench-" .. tostring(math.random(1, 1000000000)) .. "-"
request = function()
  if keyed then
    sent = sent + 1
    wrk.headers["Idempotency-Key"] = prefix .. tostring(sent)
  end
  return wrk.format()
end
local done = 0
local bad = 0
function response(status, headers, body)
  done = done + 1
  if status ~= 202 then bad = bad + 1 end
  if done >= LIMIT then wrk.thread:stop() end
end
function done_hook() end
"""


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    n: int


@dataclass
class StackResult:
    db: str
    tasks_per_s: float = 0.0  # every run with an Idempotency-Key (as the SDK submits)
    tasks_per_s_keyless: float = 0.0
    tasks: int = 0
    failed: int = 0
    server_rss_idle: float = 0.0
    agent_rss_idle: float = 0.0
    server_rss_after: float = 0.0
    latency_same: Latency | None = None
    latency_cross: Latency | None = None
    latency_backlog: Latency | None = None  # same process, 10k tasks no agent can take ahead
    notes: list[str] = field(default_factory=list)


class Counter:
    """Reads task counts straight from the database (not through the server under test)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._pg: asyncpg.Connection | None = None

    async def counts(self) -> tuple[int, int, int]:
        """(all tasks, completed, failed)."""
        sql = (
            "SELECT count(*), count(*) FILTER (WHERE task_status = 'completed'), "
            "count(*) FILTER (WHERE task_status IN ('failed', 'cancelled')) FROM tasks"
        )
        if self.db_url.startswith("postgresql"):
            if self._pg is None:
                dsn = self.db_url.replace("postgresql+asyncpg://", "postgresql://")
                self._pg = await asyncpg.connect(dsn)
            row = await self._pg.fetchrow(sql)
            assert row is not None
            return int(row[0]), int(row[1]), int(row[2])
        path = self.db_url.split("///", 1)[1]
        sqlite_sql = sql.replace(
            "count(*) FILTER (WHERE task_status = 'completed')",
            "sum(task_status = 'completed')",
        ).replace(
            "count(*) FILTER (WHERE task_status IN ('failed', 'cancelled'))",
            "sum(task_status IN ('failed', 'cancelled'))",
        )
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            a, c, f = conn.execute(sqlite_sql).fetchone()
        return int(a or 0), int(c or 0), int(f or 0)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()


async def dispatch_latency(
    client_url: str, agent_url: str, keys: Keys, n: int, agent_id: str
) -> Latency:
    """Idle system: one run at a time, random think time between runs (never lock-step)."""
    agent = BenchAgent(agent_url, keys.agent_key, agent_id, "bench")
    await agent.start()
    samples: list[float] = []
    headers = {"Authorization": f"Bearer {keys.integration_key}"}
    try:
        async with httpx.AsyncClient(base_url=client_url, headers=headers, timeout=30) as c:
            for i in range(n + 5):
                await asyncio.sleep(random.uniform(0.02, 0.06))
                t0 = time.perf_counter()
                r = await c.post("/api/v1/r/workflows/slug/noop-bench/run", json={"parameters": {}})
                r.raise_for_status()
                task_id = r.json()["task_id"]
                await asyncio.wait_for(agent.expect(task_id).wait(), 30)
                if i >= 5:  # the first runs warm caches and connections
                    samples.append(agent.arrivals[task_id] - t0)
    finally:
        await agent.close()
    return Latency(statistics.median(samples) * 1000, pct(samples, 0.99) * 1000, len(samples))


BACKLOG = 10_000


async def add_backlog(db_url: str, team_id: str, n: int) -> None:
    """``n`` waiting tasks for a label no agent has, older than anything submitted next."""
    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        wf = await pg.fetchval("SELECT id FROM workflows WHERE team_id = $1 LIMIT 1", team_id)
        await pg.execute(
            """
            INSERT INTO tasks (id, team_id, workflow_id, workflow_slug, workflow_version,
                task_status, progress, parameters, required_labels, task_timeout, max_retries,
                task_error, retry_count, attempt, created_at, event_seq, priority, tool_type,
                requirement_key, rank_at)
            SELECT 'backlog-' || i, $1, $2, 'backlog', 1, 'waiting', 0.0, '{}', '["nolabel"]',
                60, 0, '', 0, 0, now() - interval '1 hour', 1, 0, 'python', 'python|nolabel',
                now() - interval '1 hour'
            FROM generate_series(1, $3) AS i
            """,
            team_id,
            wf,
            n,
        )
        await pg.execute("ANALYZE tasks")
    finally:
        await pg.close()


async def drop_backlog(db_url: str) -> None:
    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await pg.execute("DELETE FROM tasks WHERE id LIKE 'backlog-%'")
    finally:
        await pg.close()


def submit_with_wrk(url: str, key: str, n: int, work: Path, keyed: bool) -> subprocess.Popen[bytes]:
    """wrk stops sending after n responses (its thread stops) but waits out -d: the caller
    terminates it once the tasks are in the database. ``keyed``: an Idempotency-Key on every
    run, as the SDK, the CLI and MCP send."""
    script = work / "submit.lua"
    lua = SUBMIT_LUA.replace("KEYED", "true" if keyed else "false")
    script.write_text(lua.replace("KEY", key).replace("LIMIT", str(n)))
    target = url + "/api/v1/r/workflows/slug/sleep/run"
    return subprocess.Popen(
        ["wrk", "-t1", "-c20", "-d600s", "-s", str(script), target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def throughput(
    url: str, keys: Keys, db_url: str, n: int, work: Path, keyed: bool = True
) -> tuple[float, int, int]:
    """Tasks/s from the first submit to the last completion; (rate, tasks, failed)."""
    counter = Counter(db_url)
    try:
        before, _, _ = await counter.counts()
        started = time.perf_counter()
        wrk = submit_with_wrk(url, keys.integration_key, n, work, keyed)
        deadline = started + max(120.0, n / 5)
        total = completed = failed = 0
        try:
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                total, completed, failed = await counter.counts()
                total -= before
                if wrk.poll() is None and total >= n:
                    wrk.terminate()
                if wrk.poll() is not None and completed + failed >= total:
                    break
        finally:
            if wrk.poll() is None:
                wrk.kill()
            wrk.wait()
        elapsed = time.perf_counter() - started
        return completed / elapsed, total, failed
    finally:
        await counter.close()


def run_stack(db_url: str, label: str, n_tasks: int, n_latency: int, cross: bool) -> StackResult:
    """One database: footprint idle, latency (same process, and cross-process on PostgreSQL),
    then throughput with two real agents × capacity 4."""
    result = StackResult(label)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    keys = prepare_database(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs: list[Proc] = []
    try:
        server = start_server(f"serve-{label}", server_env(db_url, work / "data", port), port, work)
        procs.append(server)
        agents = [start_agent(f"agent-{label}-{i}", url, keys.agent_key, 4, work) for i in (1, 2)]
        procs += agents
        say(f"{label}: waiting for 2 agents")
        wait_agents(url, keys.integration_key, 2)
        time.sleep(2.0)  # settle: imports done, first heartbeats sent
        result.server_rss_idle = rss_mib(server.pid)
        result.agent_rss_idle = max(rss_mib(a.pid) for a in agents)
        say(f"{label}: dispatch latency, same process")
        result.latency_same = asyncio.run(
            dispatch_latency(url, url, keys, n_latency, f"bench-{label}-same")
        )
        if cross:
            say(f"{label}: dispatch latency with {BACKLOG} tasks no agent can take ahead")
            asyncio.run(add_backlog(db_url, keys.team_id, BACKLOG))
            try:
                result.latency_backlog = asyncio.run(
                    dispatch_latency(url, url, keys, n_latency, f"bench-{label}-backlog")
                )
            finally:
                asyncio.run(drop_backlog(db_url))
            port_b = free_port()
            url_b = f"http://127.0.0.1:{port_b}"
            env_b = server_env(db_url, work / "data", port_b)
            other = start_server(f"serve-{label}-b", env_b, port_b, work)
            try:
                result.latency_cross = asyncio.run(
                    dispatch_latency(url, url_b, keys, max(20, n_latency // 4), f"bench-{label}-x")
                )
            finally:
                other.stop()
        # Unmeasured: the first few hundred tasks through a fresh stack cost more CPU each.
        warm = max(50, n_tasks // 4)
        say(f"{label}: warm-up, {warm} tasks")
        asyncio.run(throughput(url, keys, db_url, warm, work, keyed=False))
        # Keyed and key-less legs of n/2 tasks in the order ABBA: a stack that speeds up or
        # slows down over the run (measured: the first minute is the slowest) weighs on both
        # alike. Each rate: all its tasks over all its legs' time.
        done = {True: [0, 0.0], False: [0, 0.0]}
        for keyed in (True, False, False, True):
            kind = "with" if keyed else "without"
            say(f"{label}: throughput {kind} Idempotency-Keys, {n_tasks // 2} tasks")
            rate, total, failed = asyncio.run(
                throughput(url, keys, db_url, max(1, n_tasks // 2), work, keyed=keyed)
            )
            done[keyed][0] += total
            done[keyed][1] += total / rate if rate else 0.0
            result.tasks += total if keyed else 0
            result.failed += failed
        result.tasks_per_s = done[True][0] / done[True][1] if done[True][1] else 0.0
        result.tasks_per_s_keyless = done[False][0] / done[False][1] if done[False][1] else 0.0
        result.server_rss_after = rss_mib(server.pid)
    finally:
        for proc in reversed(procs):
            proc.stop()
    return result
