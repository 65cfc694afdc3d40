"""Engine and session factory built from settings.

SQLite runs in WAL mode behind **one** pooled connection: every session takes turns on it, so
writers never fight over SQLite's lock (measured: p99 80-190 ms with a pool, ~13 ms serialised).
Sessions must therefore be short: never hold one across network I/O.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from runyard.db.driver import DriverConnection
from runyard.db.observer import NoObserver, TransitionObserver
from runyard.db.unit import NoWakeups, UnitOfWork, Wakeups, track
from runyard.settings import DatabaseSettings


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class _InlineSQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, with every call run on the event loop's own thread.

    aiosqlite hands each call to a worker thread and back: ~0.9 ms per statement on this kind
    of machine, against ~20 µs for the statement itself (see the performance notes). With one
    serialised connection and WAL, a statement never waits on another writer of this process,
    so running it inline costs the loop far less than the thread hop. Waits on another
    process's lock are bounded by a short busy timeout.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_creator(database: str) -> Callable[[], Any]:
    async def create() -> aiosqlite.Connection:
        connector = functools.partial(sqlite3.connect, database, check_same_thread=False)
        return await _InlineSQLiteConnection(connector, 64)

    return create


def secure_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only (0600), its directory 0700 when we create it.

    The file holds password hashes, key hashes, emails and run parameters. SQLite gives its
    ``-wal`` and ``-shm`` files the database file's mode, so creating the database 0600 (and
    tightening one an older version left 0644) covers all three.
    """
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = settings.url
    if url.startswith("sqlite"):
        secure_sqlite_file(url)
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(
            url,
            echo=settings.echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            async_creator=_inline_creator(database),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        # No pre-ping (a round trip on every checkout); a connection the server dropped fails
        # one request with 503 and is replaced, and recycling bounds idle connections' age.
        pool_recycle=1800,
    )


@contextlib.contextmanager
def unreachable_as_operational() -> Iterator[None]:
    """The driver's errors of a lost or refused connection as SQLAlchemy's ``OperationalError``,
    which the app answers 503 ``database_unavailable`` and the gateway treats like any failed
    unit (statements sent through the driver directly bypass SQLAlchemy's own translation)."""
    import asyncpg

    try:
        yield
    except (
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.InterfaceError,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise OperationalError("a statement sent through the driver", None, exc) from exc


class Database:
    """The engine plus a session factory; built once by the services container."""

    def __init__(self, settings: DatabaseSettings, wakeups: Wakeups | None = None) -> None:
        self.engine = make_engine(settings)
        self.wakeups: Wakeups = wakeups or NoWakeups()
        #: Transitions are observed here (the app's metrics, when installed).
        self.observer: TransitionObserver = NoObserver()
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = settings.url.startswith("sqlite")
        self.is_postgres = self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A bare session for reads (and tests); rolled back on error. Writes use ``unit()``."""
        async with self.sessionmaker() as session:
            track(session)
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            finally:
                track(None)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """One unit of work: committed when the block ends normally (its hooks run after),
        rolled back on error, except a ``RunyardError(commit_first=True)``: committed, then
        re-raised."""
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session, self.wakeups, self.observer)
            track(session)
            try:
                yield uow
            except BaseException as exc:
                if getattr(exc, "commit_first", False):
                    await uow.commit()
                else:
                    await uow.rollback()
                raise
            else:
                await uow.commit()
            finally:
                track(None)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[DriverConnection]:
        """PostgreSQL's driver connection (``asyncpg``) from the pool, in no transaction: for
        statements that are their own transaction (``tasks/direct.py``). A connection that
        failed is dropped from the pool, as SQLAlchemy drops its own."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                with unreachable_as_operational():
                    yield cast(DriverConnection, raw.driver_connection)
            except BaseException:
                await conn.invalidate()
                raise

    @staticmethod
    async def driver_of(session: AsyncSession) -> DriverConnection:
        """The driver connection (``asyncpg``) of ``session``'s transaction, begun if it was
        not yet (SQLAlchemy begins the driver's transaction with its first statement)."""
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        driver = cast(DriverConnection, raw.driver_connection)
        if not driver.is_in_transaction():
            await conn.exec_driver_sql("SELECT 1")
        return driver

    async def dispose(self) -> None:
        await self.engine.dispose()
