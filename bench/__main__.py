"""``make bench`` (``python -m bench``): every row measured in this one run on this machine, printed
as ONE table with each goal met or missed and its ratio to the goal (>= 1.00 means met).

Sizes (environment; the defaults keep a run under ~10 minutes on 2 cores):

- ``BENCH_TASKS`` (600): P4, no-op tasks per throughput leg (Runyard on PostgreSQL and on
  SQLite, procrastinate, Celery);
- ``BENCH_LATENCY`` (200): P3, runs one at a time per latency leg (cross-process: a quarter);
- ``BENCH_P1_SECONDS`` (5): P1, seconds per ``wrk`` run;
- ``BENCH_P2_BYTES`` (1073741824): P2, size of the signed PUT;
- ``BENCH_P5_TASKS`` (30): P5, seed flows one at a time;
- ``BENCH_P7_BYTES`` (536870912), ``BENCH_P7_RUNS`` (2): P7, the model synced to an agent's
  disk against a plain GET of the same bytes (bench/library_sync.py);
- ``BENCH_G_STREAMS`` (500), ``BENCH_G_AGENTS`` (300), ``BENCH_G_TASKS`` (100000): the G rows
  (bench/growth.py, ~2 minutes);
- ``BENCH_T_MIB`` (64), ``BENCH_T_REQUESTS`` (300), ``BENCH_T_TASKS`` (200): the tunnel rows
  (bench/tunnel.py);
- ``BENCH_PY_TASKS`` (200), ``BENCH_PY_VERSIONS`` (8): the PY rows (bench/python_runtime.py);
- ``BENCH_ONLY`` (all): a subset, e.g. ``P1,P2`` (P3, P4 and P6 share one stack; ``G`` the
  growth rows; ``T`` the tunnel rows; ``PY`` deployed Python code).

Progress goes to stderr; the table to stdout. PostgreSQL at 127.0.0.1:5432 (trust, user
``postgres``) and Redis at 127.0.0.1:6379 are needed; ``scripts/ensure-bench-tools.sh`` checks.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, env_int, pg_available, pg_drop, pg_recreate, print_table, say

PG_QUEUE_DB = "runyard_bench_queue"


def queue_rows(n_tasks: int, n_latency: int, pg: bool) -> list[Row]:
    from bench.baselines import run_celery, run_procrastinate
    from bench.queue import run_stack

    rows: list[Row] = []
    sq = Path(tempfile.mkdtemp(prefix="bench-queue-")) / "queue.db"
    say("SQLite stack")
    lite = run_stack(f"sqlite+aiosqlite:///{sq}", "sqlite", n_tasks, n_latency, cross=False)
    if not pg:
        rows.append(Row("P3/P4", "PostgreSQL rows", "skipped: no PostgreSQL"))
        pgr = None
    else:
        pg_recreate(PG_QUEUE_DB)
        say("PostgreSQL stack")
        try:
            pgr = run_stack(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_QUEUE_DB}",
                "postgres",
                n_tasks,
                n_latency,
                cross=True,
            )
        finally:
            pg_drop(PG_QUEUE_DB)
        proc_rate, (proc_p50, proc_p99) = run_procrastinate(n_tasks, n_latency)
        cel_rate, (cel_p50, cel_p99) = run_celery(n_tasks, n_latency)
        for label, lat, p99_goal in (
            ("same process", pgr.latency_same, 12),
            ("across 2 servers", pgr.latency_cross, 30),
        ):
            assert lat is not None
            rows.append(
                Row(
                    "P3",
                    f"submit -> agent holds task.assign p50, PostgreSQL, {label}",
                    f"{lat.p50_ms:.1f} ms",
                    "<= 8 ms",
                    8 / lat.p50_ms,
                    lat.p50_ms <= 8,
                )
            )
            rows.append(
                Row(
                    "P3",
                    f"submit -> agent holds task.assign p99, PostgreSQL, {label}",
                    f"{lat.p99_ms:.1f} ms",
                    f"<= {p99_goal} ms",
                    p99_goal / lat.p99_ms,
                    lat.p99_ms <= p99_goal,
                )
            )
        same, backlog = pgr.latency_same, pgr.latency_backlog
        if same is not None and backlog is not None:
            growth = backlog.p99_ms / same.p99_ms
            rows.append(
                Row(
                    "P3",
                    "growth: dispatch p99 with 10k tasks no agent can take ahead vs none",
                    f"{backlog.p99_ms:.1f} vs {same.p99_ms:.1f} ms = {growth:.2f}x",
                    "<= 1.5x",
                    1.5 / growth,
                    growth <= 1.5,
                )
            )
        rows.append(
            Row(
                "P3",
                "  baseline: procrastinate defer -> start p50 / p99",
                f"{proc_p50:.1f} / {proc_p99:.1f} ms",
            )
        )
        rows.append(
            Row(
                "P3",
                "  baseline: Celery+Redis enqueue -> start p50 / p99",
                f"{cel_p50:.1f} / {cel_p99:.1f} ms",
            )
        )
        ratio = pgr.tasks_per_s / proc_rate
        rows.append(
            Row(
                "P4",
                "no-op tasks/s end to end, 8 slots, PostgreSQL, every run with an "
                "Idempotency-Key (as the SDK submits) vs procrastinate (8 workers)",
                f"{pgr.tasks_per_s:.1f} vs {proc_rate:.0f}/s = {ratio:.2f}x",
                ">= 0.5x (moonshot 1.0x)",
                ratio / 0.5,
                ratio >= 0.5,
            )
        )
        rows.append(
            Row(
                "P4",
                "  info: same without an Idempotency-Key",
                f"{pgr.tasks_per_s_keyless:.1f}/s = {pgr.tasks_per_s_keyless / proc_rate:.2f}x",
            )
        )
        rows.append(
            Row(
                "P4",
                "  same, against 10x the 14.1/s of the issue (done-when)",
                f"{pgr.tasks_per_s:.1f}/s",
                ">= 141/s",
                pgr.tasks_per_s / 141,
                pgr.tasks_per_s >= 141,
            )
        )
        rows.append(
            Row("P4", "  baseline: Celery+Redis tasks/s (prefork -c 8)", f"{cel_rate:.0f}/s")
        )
        if pgr.failed:
            rows.append(Row("P4", "  PostgreSQL tasks that did not complete", str(pgr.failed)))
    rows.append(
        Row(
            "P4",
            "no-op tasks/s end to end, 8 slots, SQLite (with Idempotency-Keys)",
            f"{lite.tasks_per_s:.1f}/s (without keys {lite.tasks_per_s_keyless:.1f}/s)",
            ">= 150/s",
            lite.tasks_per_s / 150,
            lite.tasks_per_s >= 150,
        )
    )
    rows.append(
        Row(
            "P3",
            "  info: same-process dispatch p50 / p99, SQLite",
            f"{lite.latency_same.p50_ms:.1f} / {lite.latency_same.p99_ms:.1f} ms"
            if lite.latency_same
            else "-",
        )
    )
    stack = pgr or lite
    rows.append(
        Row(
            "P6",
            f"idle RSS of runyard serve ({stack.db})",
            f"{stack.server_rss_idle:.0f} MiB",
            "<= 150 MiB",
            150 / stack.server_rss_idle,
            stack.server_rss_idle <= 150,
        )
    )
    rows.append(
        Row(
            "P6",
            "idle RSS of runyard agent",
            f"{stack.agent_rss_idle:.0f} MiB",
            "<= 80 MiB",
            80 / stack.agent_rss_idle,
            stack.agent_rss_idle <= 80,
        )
    )
    rows.append(
        Row(
            "P6", "  info: runyard serve RSS after the P4 load", f"{stack.server_rss_after:.0f} MiB"
        )
    )
    return rows


def main() -> None:
    # SIGTERM (a timeout, Ctrl-C in make) unwinds like an exception, so every started server,
    # agent and worker is stopped by the ``finally`` that started it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = {x.strip().upper() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
    want = lambda k: not only or k in only  # noqa: E731
    pg = pg_available()
    started = time.monotonic()
    rows: list[Row] = []
    if want("P1"):
        from bench.presign import p1_rows

        say("P1 presign")
        rows += p1_rows(pg)
    if want("P2"):
        from bench.store import p2_rows

        say("P2 embedded store")
        rows += p2_rows()
    if want("P3") or want("P4") or want("P6"):
        rows += queue_rows(env_int("BENCH_TASKS", 600), env_int("BENCH_LATENCY", 200), pg)
    if want("P5"):
        from bench.seed_flow import p5_rows

        say("P5 seed flow")
        rows += p5_rows()
    if want("P7"):
        from bench.library_sync import p7_rows

        say("P7 model library sync")
        rows += p7_rows()
    if want("T"):
        from bench.tunnel import t_rows

        say("T tunnel rows")
        rows += t_rows()
    if want("PY"):
        from bench.python_runtime import py_rows

        say("PY deployed Python code")
        rows += py_rows()
    if want("G") and pg:
        from bench.growth import g_rows

        say("G growth rows")
        rows += g_rows()
    order = {
        k: i
        for i, k in enumerate(
            [
                "P1",
                "P2",
                "P3",
                "P4",
                "P5",
                "P6",
                "P7",
                "P3/P4",
                "PY1",
                "PY2",
                "T1",
                "T2",
                "T3",
                "G2",
            ]
        )
    }
    rows.sort(key=lambda r: order.get(r.id, 99))
    uname = platform.uname()
    print(
        f"\nmake bench: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, {uname.system} {uname.release}, "
        f"Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end, {time.monotonic() - started:.0f} s"
    )
    print_table(rows)
    missed = sum(1 for r in rows if r.met is False)
    print(f"{missed} goal(s) missed of {sum(1 for r in rows if r.met is not None)}.")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
