"""P5, the seed's whole flow on ``runyard serve`` (SQLite, embedded store) with one real agent:
presign → PUT 1 MiB → run a no-op workflow with the file as its input (``sleep-file``: the
agent downloads the input, sleeps 0 s, uploads a few bytes) → follow the event stream until
``completed``; one task at a time.

"Moving the bytes" is measured in the same run: the same client PUTs and GETs the same 1 MiB to
a bare Starlette route on the same disk (``bench/bare_store.py``). Platform time is the flow's
median minus that median.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (
    Proc,
    Row,
    env_int,
    free_port,
    pct,
    prepare_database,
    say,
    server_env,
    start_agent,
    start_server,
    wait_agents,
    wait_http,
)

MIB = 1024 * 1024


def bare_bytes(n: int, body: bytes, work: Path) -> list[float]:
    port = free_port()
    args = [sys.executable, "-m", "bench.bare_store", "--port", str(port), "--root", str(work)]
    work.mkdir(parents=True, exist_ok=True)
    bare = Proc("p5-bare", args, {}, work)
    samples: list[float] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", bare)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            for i in range(n + 3):
                t = time.perf_counter()
                c.put(f"/bare/b{i}", content=body).raise_for_status()
                c.get(f"/bare/b{i}").raise_for_status()
                if i >= 3:
                    samples.append(time.perf_counter() - t)
    finally:
        bare.stop()
    return samples


STAGES = ("presign", "PUT 1 MiB", "run (202)", "202 -> completed event")


def flow(c: httpx.Client, body: bytes, stages: dict[str, list[float]]) -> float:
    t = time.perf_counter()
    p = c.post(
        "/files/presign",
        json={
            "file_name": "blob.bin",
            "file_size": len(body),
            "content_type": "application/octet-stream",
        },
    ).json()
    t1 = time.perf_counter()
    c.put(p["upload_url"], content=body, headers=p["upload_headers"]).raise_for_status()
    t2 = time.perf_counter()
    r = c.post("/workflows/slug/sleep-file/run", json={"parameters": {"input_file": p["file_key"]}})
    r.raise_for_status()
    task_id = r.json()["task_id"]
    t3 = time.perf_counter()
    with c.stream("GET", f"/tasks/{task_id}/events") as events:
        for line in events.iter_lines():
            if line.startswith("event: failed"):
                raise RuntimeError(f"task {task_id} failed")
            if line.startswith("event: completed"):
                break
    done = time.perf_counter()
    for name, took in zip(STAGES, (t1 - t, t2 - t1, t3 - t2, done - t3), strict=True):
        stages[name].append(took)
    return done - t


def p5_rows() -> list[Row]:
    n = env_int("BENCH_P5_TASKS", 30)
    body = os.urandom(MIB)
    work = Path(tempfile.mkdtemp(prefix="bench-p5-"))
    bare = bare_bytes(n, body, work / "bare")
    db_url = f"sqlite+aiosqlite:///{work / 'p5.db'}"
    keys = prepare_database(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server("p5-serve", server_env(db_url, work / "data", port), port, work)
    agent = start_agent("p5-agent", url, keys.agent_key, 1, work)
    samples: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    try:
        wait_agents(url, keys.integration_key, 1)
        say(f"P5: {n} seed flows one at a time")
        headers = {"Authorization": f"Bearer {keys.integration_key}"}
        with httpx.Client(base_url=url + "/api/v1/r", headers=headers, timeout=30) as c:
            for i in range(n + 3):
                took = flow(c, body, stages)
                if i < 3:
                    for values in stages.values():
                        values.clear()
                if i >= 3:
                    samples.append(took)
    finally:
        agent.stop()
        server.stop()
    bytes_ms = statistics.median(bare) * 1000
    flow_ms = statistics.median(samples) * 1000
    platform = flow_ms - bytes_ms
    return [
        Row(
            "P5",
            "seed flow 1 MiB, platform time beyond the bytes (SQLite)",
            f"{platform:.1f} ms (flow p50 {flow_ms:.1f}, p99 {pct(samples, 0.99) * 1000:.1f};"
            f" bytes p50 {bytes_ms:.1f})",
            "<= 30 ms",
            30 / max(platform, 0.1),
            platform <= 30,
        ),
        Row(
            "P5",
            "  info: stage p50s",
            ", ".join(f"{n} {statistics.median(v) * 1000:.1f}" for n, v in stages.items()) + " ms",
        ),
    ]
