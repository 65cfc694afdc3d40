"""What one fenced unit of work costs in CPU through each layer of the database access, on
PostgreSQL: the shape every agent frame has (begin, lock the task row, update it, commit).

``python -m bench.db_layer`` prints a table of the server-side CPU per unit (``process_time``,
so waiting on PostgreSQL does not count), each variant against raw ``asyncpg`` in the same run,
alternated round by round so a noisy machine affects them alike:

- ``asyncpg``: the driver alone, prepared statements, one connection;
- ``sqlalchemy connection, driver statements``: the engine's pool and transaction around the
  same driver calls (what checkout, begin, commit and checkin cost);
- ``sqlalchemy core, built once`` / ``built per call``: ``select``/``update`` through the
  engine, reused with bound parameters or rebuilt (a fresh statement computes its cache key);
- ``unit of work (ORM)``: ``Database.unit()`` with the row loaded as a ``Task`` and changed, as
  ``TaskExecution`` does.

Sizes: ``BENCH_DB_UNITS`` (300 per variant per round), ``BENCH_DB_ROUNDS`` (3).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select, text

from bench.common import env_int, pg_drop, pg_recreate, prepare_database, say

DB = "runyard_bench_db_layer"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
Variant = Callable[[int], Awaitable[None]]


async def measure(units: int, rounds: int) -> dict[str, list[float]]:
    from runyard.db.base import new_id
    from runyard.db.engine import Database
    from runyard.models import Task
    from runyard.settings import DatabaseSettings

    db = Database(DatabaseSettings(url=URL))
    raw = await asyncpg.connect(URL.replace("+asyncpg", ""))
    table: Any = Task.__table__
    async with db.unit() as uow:
        team = (await uow.session.execute(text("SELECT id FROM teams LIMIT 1"))).scalar_one()
        workflow = (await uow.session.execute(text("SELECT id FROM workflows LIMIT 1"))).scalar()
        task = Task(
            id=new_id(),
            team_id=team,
            workflow_id=workflow,
            workflow_slug="sleep",
            workflow_version=1,
            task_status="running",
            progress=0.0,
            parameters={"seconds": 0},
            required_labels=[],
            task_timeout=60,
            max_retries=1,
            task_error="",
            retry_count=0,
            attempt=1,
            created_at=datetime.now(UTC),
            event_seq=0,
        )
        uow.session.add(task)
    tid = task.id
    lock_sql = "SELECT * FROM tasks WHERE id = $1 FOR UPDATE"
    update_sql = "UPDATE tasks SET progress = $1, event_seq = $2 WHERE id = $3"
    locked = await raw.prepare(lock_sql)
    updated = await raw.prepare(update_sql)
    lock_once = select(table).where(table.c.id == bindparam("tid")).with_for_update()
    update_once = (
        table.update()
        .where(table.c.id == bindparam("tid"))
        .values(progress=bindparam("p"), event_seq=bindparam("s"))
    )
    orm_lock = select(Task).where(Task.id == bindparam("tid")).with_for_update()

    async def driver(n: int) -> None:
        for i in range(n):
            async with raw.transaction():
                row = await locked.fetchrow(tid)
                await updated.fetch(i / n, row["event_seq"] + 1, tid)

    async def engine_driver(n: int) -> None:
        for i in range(n):
            async with db.engine.begin() as conn:
                pg = (await conn.get_raw_connection()).driver_connection
                assert pg is not None
                row = await pg.fetchrow(lock_sql, tid)
                await pg.execute(update_sql, i / n, row["event_seq"] + 1, tid)

    async def core_once(n: int) -> None:
        for i in range(n):
            async with db.engine.begin() as conn:
                row = (await conn.execute(lock_once, {"tid": tid})).one()
                await conn.execute(update_once, {"tid": tid, "p": i / n, "s": row.event_seq + 1})

    async def core_per_call(n: int) -> None:
        for i in range(n):
            async with db.engine.begin() as conn:
                stmt = select(table).where(table.c.id == tid).with_for_update()
                row = (await conn.execute(stmt)).one()
                await conn.execute(
                    table.update()
                    .where(table.c.id == tid)
                    .values(progress=i / n, event_seq=row.event_seq + 1)
                )

    async def orm_unit(n: int) -> None:
        for i in range(n):
            async with db.unit() as uow:
                found = await uow.session.scalar(orm_lock, {"tid": tid})
                assert found is not None
                found.progress = i / n
                found.event_seq += 1

    variants: dict[str, Variant] = {
        "asyncpg": driver,
        "sqlalchemy connection, driver statements": engine_driver,
        "sqlalchemy core, built once": core_once,
        "sqlalchemy core, built per call": core_per_call,
        "unit of work (ORM)": orm_unit,
    }
    costs: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for run in variants.values():
            await run(30)  # warm: connections, prepared statements, compiled caches
        for r in range(rounds):
            say(f"db layer: round {r + 1} of {rounds}")
            for name, run in variants.items():
                started = time.process_time()
                await run(units)
                costs[name].append((time.process_time() - started) / units * 1000)
    finally:
        await raw.close()
        await db.dispose()
    return costs


def main() -> None:
    units, rounds = env_int("BENCH_DB_UNITS", 300), env_int("BENCH_DB_ROUNDS", 3)
    pg_recreate(DB)
    try:
        prepare_database(URL)
        costs = asyncio.run(measure(units, rounds))
    finally:
        pg_drop(DB)
    base = statistics.median(costs["asyncpg"])
    print(f"one fenced unit (begin, lock, update, commit), {units} x {rounds} rounds, CPU ms/unit")
    print(f"{'variant':44s} {'median':>8s} {'min':>8s} {'x asyncpg':>10s}")
    for name, values in costs.items():
        median = statistics.median(values)
        print(f"{name:44s} {median:8.3f} {min(values):8.3f} {median / base:10.2f}")


if __name__ == "__main__":
    main()
