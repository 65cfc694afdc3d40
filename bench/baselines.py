"""The queues users would pick instead, run beside Runyard in the same ``make bench``:

- procrastinate (PostgreSQL, LISTEN/NOTIFY), one worker process with ``concurrency=8``;
- Celery with a Redis broker (127.0.0.1:6379, db 13, its own queue), ``prefork -c 8``.

Throughput: N no-op jobs deferred by 20 concurrent submitters while the workers run, from the
first defer to the last completion (procrastinate: ``succeeded`` rows read every 50 ms; Celery:
a Redis counter the task increments). Latency (defer/enqueue → start): one job at a time with
random think times; the job pushes ``time.time()`` at its start into a Redis list, the client
compares it with its own ``time.time()`` just before deferring (one machine, one clock).

Workers: ``python -m bench.baselines procrastinate-worker|celery-worker``.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.common import Proc, clean_env, pct, pg_drop, pg_recreate, say

PG_DB = "runyard_bench_procrastinate"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PREFIX = "runyard-bench"


def procrastinate_app() -> Any:
    import procrastinate

    dsn = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    stamps = redis.asyncio.Redis.from_url(REDIS_URL)

    @app.task(name="noop")
    async def noop() -> None:
        return None

    @app.task(name="stamp")
    async def stamp() -> None:
        await stamps.rpush(f"{PREFIX}:stamps", time.time())

    return app


def celery_app() -> Any:
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL)
    app.conf.update(
        task_default_queue=f"{PREFIX}-celery",
        task_ignore_result=True,
        worker_prefetch_multiplier=4,
        broker_connection_retry_on_startup=True,
    )
    client = redis.Redis.from_url(REDIS_URL)

    @app.task(name="noop")
    def noop() -> None:
        client.incr(f"{PREFIX}:done")

    @app.task(name="stamp")
    def stamp() -> None:
        client.rpush(f"{PREFIX}:stamps", time.time())

    return app


# ------------------------------------------------------------------ procrastinate


async def _procrastinate_throughput(app: Any, n: int) -> float:
    import psycopg

    dsn = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    noop = app.tasks["noop"]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        queue = iter(range(n))

        async def submitter() -> None:
            for _ in queue:
                await noop.defer_async()

        submitters = asyncio.gather(*(submitter() for _ in range(20)))
        done = 0
        while done < n:
            await asyncio.sleep(0.05)
            cur = await conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
            row = await cur.fetchone()
            done = int(row[0]) if row else 0
            if time.perf_counter() - started > 300:
                raise TimeoutError(f"procrastinate finished {done} of {n} jobs in 300 s")
        await submitters
        return n / (time.perf_counter() - started)


async def _latency(defer: Any, n: int) -> tuple[float, float]:
    """p50, p99 in ms of defer → start, one at a time, random think times."""
    stamps = redis.asyncio.Redis.from_url(REDIS_URL)
    await stamps.delete(f"{PREFIX}:stamps")
    samples: list[float] = []
    try:
        for i in range(n + 5):
            await asyncio.sleep(random.uniform(0.02, 0.06))
            t0 = time.time()
            await defer()
            popped = await stamps.blpop([f"{PREFIX}:stamps"], timeout=30)
            if popped is None:
                raise TimeoutError("the job did not start within 30 s")
            if i >= 5:
                samples.append(float(popped[1]) - t0)
    finally:
        await stamps.aclose()
    return statistics.median(samples) * 1000, pct(samples, 0.99) * 1000


def run_procrastinate(n_jobs: int, n_latency: int) -> tuple[float, tuple[float, float]]:
    """(jobs/s with 8 workers, (p50, p99) defer → start)."""
    pg_recreate(PG_DB)
    app = procrastinate_app()
    logs = Path(tempfile.mkdtemp(prefix="bench-procrastinate-"))

    async def setup() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(setup())
    worker = Proc(
        "procrastinate-worker",
        [sys.executable, "-m", "bench.baselines", "procrastinate-worker"],
        clean_env(),
        logs,
    )
    try:
        time.sleep(2.0)

        async def measure() -> tuple[float, tuple[float, float]]:
            async with app.open_async():
                latency = await _latency(lambda: app.tasks["stamp"].defer_async(), n_latency)
                rate = await _procrastinate_throughput(app, n_jobs)
            return rate, latency

        say("procrastinate: latency, then throughput")
        return asyncio.run(measure())
    finally:
        worker.stop()
        pg_drop(PG_DB)


def _procrastinate_worker() -> None:
    app = procrastinate_app()

    async def work() -> None:
        async with app.open_async():
            await app.run_worker_async(concurrency=8, delete_jobs="never")

    asyncio.run(work())


# ------------------------------------------------------------------ Celery


def run_celery(n_jobs: int, n_latency: int) -> tuple[float, tuple[float, float]]:
    """(tasks/s with prefork -c 8, (p50, p99) enqueue → start)."""
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(f"{PREFIX}-celery", f"{PREFIX}:done", f"{PREFIX}:stamps")
    app = celery_app()
    logs = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    worker = Proc(
        "celery-worker",
        [sys.executable, "-m", "bench.baselines", "celery-worker"],
        clean_env(),
        logs,
    )
    try:
        app.tasks["stamp"].delay()  # wait until the worker takes tasks
        deadline = time.monotonic() + 60
        while client.blpop([f"{PREFIX}:stamps"], timeout=1) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Celery worker did not start:\n{worker.tail()}")
        say("celery: latency, then throughput")

        async def latency() -> tuple[float, float]:
            async def defer() -> None:
                app.tasks["stamp"].delay()

            return await _latency(defer, n_latency)

        lat = asyncio.run(latency())
        from concurrent.futures import ThreadPoolExecutor

        started = time.perf_counter()
        noop = app.tasks["noop"]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: noop.delay(), range(n_jobs)))
        while int(client.get(f"{PREFIX}:done") or 0) < n_jobs:
            time.sleep(0.02)
            if time.perf_counter() - started > 300:
                raise TimeoutError("Celery did not finish in 300 s")
        return n_jobs / (time.perf_counter() - started), lat
    finally:
        worker.stop()
        client.delete(f"{PREFIX}-celery", f"{PREFIX}:done", f"{PREFIX}:stamps")


def _celery_worker() -> None:
    app = celery_app()
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=8",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    {"procrastinate-worker": _procrastinate_worker, "celery-worker": _celery_worker}[sys.argv[1]]()
