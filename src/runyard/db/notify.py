"""Wake-ups across server processes on PostgreSQL: ``LISTEN/NOTIFY``.

Every server process keeps one dedicated connection that listens, and announces on it what its
own units of work committed: the changes of all units committed within one turn of the event
loop go out as one ``pg_notify`` (a round trip per burst, not one inside every transaction).
Other processes turn each notification into the same local wake-ups a commit of their own gives:
the event streams following those tasks, and the dispatcher; a process ignores its own
notifications (it woke itself at commit). Announcing after the commit means nothing is ever
announced that did not commit; a process that dies between its commit and the announcement
costs the others only a poll interval. Polling stays the fallback (a listener that lost its
connection reconnects; meanwhile nothing is missed, only later).

A second channel, ``runyard_library``, carries a team id whenever a team's model library
changed, so every process re-sends the model set to the agents connected to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import make_url

log = logging.getLogger("runyard.db")
CHANNEL = "runyard_tasks"
LIBRARY_CHANNEL = "runyard_library"
MAX_PAYLOAD = 7_000  # PostgreSQL refuses payloads of 8,000 bytes and more
ALL = "*"


def encode(task_ids: set[str], wake: bool) -> str:
    """``w`` or ``-`` (wake the dispatcher or not), then the task ids; ``*`` when too many."""
    ids = ",".join(sorted(task_ids))
    if len(ids) > MAX_PAYLOAD:
        ids = ALL
    return ("w" if wake else "-") + ids


def decode(payload: str) -> tuple[set[str] | None, bool]:
    """(task ids, or None for every stream; whether to wake the dispatcher)."""
    wake, ids = payload[:1] == "w", payload[1:]
    if ids == ALL:
        return None, wake
    return {i for i in ids.split(",") if i}, wake


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One LISTEN connection per process, reconnected with a short backoff when lost."""

    def __init__(
        self,
        url: str,
        on_notify: Callable[[set[str] | None, bool], None],
        on_library: Callable[[str], None] | None = None,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._on_notify = on_notify
        self.on_library = on_library
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._pid: int | None = None
        self._pending: set[str] = set()
        self._pending_wake = False
        self._flush: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.announced = 0  # notifications sent (bursts), for tests and the curious
        self._pending_library: set[str] = set()

    def announce(self, task_ids: set[str], wake: bool) -> None:
        """Tell the other server processes about committed changes, coalesced per loop turn."""
        if self._conn is None:
            return  # not listening: the others poll
        self._pending |= task_ids
        self._pending_wake = self._pending_wake or wake
        self._flush_soon()

    def announce_library(self, team_id: str) -> None:
        """Tell the other server processes that ``team_id``'s model library changed."""
        conn = self._conn
        if conn is None or conn.is_closed():
            return  # not listening: their agents get the set at their next connection
        self._pending_library.add(team_id)
        self._flush_soon()

    def _flush_soon(self) -> None:
        # One sender: the LISTEN connection runs one statement at a time (a second one while
        # another is on the wire fails, and a library change, which nobody polls, was lost).
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._send_pending())

    async def _send_pending(self) -> None:
        await asyncio.sleep(0)  # let the other units committing in this turn join the burst
        # Announcements made while one is on the wire go out next, in the same loop.
        while self._pending or self._pending_wake or self._pending_library:
            ids, self._pending = self._pending, set()
            wake, self._pending_wake = self._pending_wake, False
            teams, self._pending_library = self._pending_library, set()
            conn = self._conn
            if conn is None or conn.is_closed():
                return
            try:
                if ids or wake:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, encode(ids, wake))
                    self.announced += 1
                for team_id in sorted(teams):
                    await conn.execute("SELECT pg_notify($1, $2)", LIBRARY_CHANNEL, team_id)
            except Exception as exc:  # the connection is being lost: the others poll meanwhile
                log.debug("could not announce changes (%s)", exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="runyard-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _deliver(self, _conn: object, pid: int, channel: str, payload: str) -> None:
        if pid == self._pid:
            return  # our own announcement: this process woke itself when it committed
        if channel == LIBRARY_CHANNEL:
            if self.on_library is not None:
                self.on_library(payload)
            return
        task_ids, wake = decode(payload)
        self._on_notify(task_ids, wake)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._deliver)
                await conn.add_listener(LIBRARY_CHANNEL, self._deliver)
                self._pid = conn.get_server_pid()
                self._conn = conn
                self.connected.set()
                delay = 0.5
                # Wake everything once: changes made while not listening are not missed.
                self._on_notify(None, True)
                if self.on_library is not None:
                    self.on_library(ALL)  # and re-send every team's model set
                while not lost.is_set() and not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5.0)
                log.warning("the LISTEN connection was lost; reconnecting (polling meanwhile)")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot LISTEN for wake-ups (%s); polling meanwhile", exc)
            finally:
                self.connected.clear()
                self._conn = None
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)
