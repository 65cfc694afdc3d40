"""The unit of work: one commit, hooks and wake-ups only after it, commit-first refusals, and
the guard that fails a store call made while a connection is checked out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.errors import Conflict
from runyard.settings import DatabaseSettings
from tests.support.guard import ConnectionHeldDuringIO, forbid_io_in_transactions


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[set[str], bool]] = []
        self.webhook_wakes = 0

    def tasks_changed(self, task_ids: set[str], wake_dispatcher: bool) -> None:
        self.calls.append((task_ids, wake_dispatcher))

    def webhooks_due(self) -> None:
        self.webhook_wakes += 1


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"), Heard())
    async with database.unit() as uow:
        await uow.session.execute(text("CREATE TABLE t (v INTEGER)"))
    yield database
    await database.dispose()


async def _count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_hooks_and_wakeups_run_after_the_commit_only(db: Database) -> None:
    seen: list[int] = []
    heard = db.wakeups
    assert isinstance(heard, Heard)

    async def hook() -> None:
        seen.append(await _count(db))  # runs after the commit: the row is visible

    async with db.unit() as uow:
        await uow.session.execute(text("INSERT INTO t VALUES (1)"))
        uow.task_changed("task-1", wake=True)
        uow.after_commit(hook)
        assert seen == [] and heard.calls == []
    assert seen == [1] and heard.calls == [({"task-1"}, True)]

    with pytest.raises(RuntimeError):
        async with db.unit() as uow:
            await uow.session.execute(text("INSERT INTO t VALUES (2)"))
            uow.task_changed("task-2")
            uow.after_commit(hook)
            raise RuntimeError("refused")
    assert await _count(db) == 1 and seen == [1] and len(heard.calls) == 1


async def test_a_commit_first_refusal_keeps_its_changes(db: Database) -> None:
    with pytest.raises(Conflict):
        async with db.unit() as uow:
            await uow.session.execute(text("INSERT INTO t VALUES (3)"))
            raise Conflict("kept, then refused", code="conflict", commit_first=True)
    assert await _count(db) == 1


async def test_before_commit_hooks_join_the_transaction_and_webhooks_wake_after_it(
    db: Database,
) -> None:
    heard = db.wakeups
    assert isinstance(heard, Heard)

    async def add_row() -> None:
        await uow.session.execute(text("INSERT INTO t VALUES (10)"))
        uow.wake_webhooks()

    async with db.unit() as uow:
        uow.before_commit(add_row)
        assert await _count_in(uow) == 0 and heard.webhook_wakes == 0
    assert await _count(db) == 1 and heard.webhook_wakes == 1

    async def fail() -> None:
        raise RuntimeError("the outbox could not be written")

    with pytest.raises(RuntimeError):
        async with db.unit() as uow:
            await uow.session.execute(text("INSERT INTO t VALUES (11)"))
            uow.before_commit(fail)
    assert await _count(db) == 1 and heard.webhook_wakes == 1  # neither row nor wake-up


async def _count_in(uow: UnitOfWork) -> int:
    return int((await uow.session.execute(text("SELECT count(*) FROM t"))).scalar_one())


class FakeStore:
    backend = "fake"

    def __init__(self) -> None:
        self.heads = 0

    async def head(self, key: str) -> None:
        self.heads += 1


async def test_the_guard_fails_a_store_call_inside_a_transaction(db: Database) -> None:
    store = FakeStore()
    forbid_io_in_transactions(store)  # type: ignore[arg-type]
    async with db.unit() as uow:
        await uow.session.execute(text("SELECT 1"))
        with pytest.raises(ConnectionHeldDuringIO, match="head"):
            await store.head("k")
        await uow.commit()  # released: now the call is fine
        await store.head("k")
    await store.head("k")
    assert store.heads == 2
