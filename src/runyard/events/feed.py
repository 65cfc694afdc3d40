"""One reader of the event log per process, shared by every open event stream.

Streams do not poll. Each subscribes to the feed with its cursor (the last event id it sent)
and waits. The feed's reader wakes when a task with subscribers changes (a commit of this
process, or on PostgreSQL a notification from another one: ``services.TaskWakeups``), reads
the changed tasks in one session — their status, then every event after the lowest cursor of
each task, in one statement for up to ``CHUNK`` tasks — and hands each subscription its slice.
So a wake costs the same read whether one or five hundred streams follow the task, and an idle
stream costs nothing.

A slow safety poll (``events.safety_poll``) reads every followed task anyway: it covers a lost
notification and a change announced by nobody. While this process cannot listen for other
processes' changes (PostgreSQL, the LISTEN connection down), the poll is the old fast one
(``events.poll_interval``).

Status first, then events: once a task reads terminal, its terminal event (same commit) is
visible to the read that follows; a task found finished with nothing left to read (history
pruned) ends its streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.events.credentials import CredentialChecks
from runyard.events.repository import EventLog, EventRow
from runyard.settings import Settings
from runyard.states import TERMINAL

log = logging.getLogger("runyard.events")
CHUNK = 200  # tasks per read
ROWS = 1000  # events per read; a full answer is continued at once


@dataclass(eq=False)
class Subscription:
    task_id: str
    after: int  # the last event id handed to this subscription
    pending: list[EventRow] = field(default_factory=list)
    finished: bool = False  # terminal, and everything there is was handed over
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self) -> list[EventRow]:
        events, self.pending = self.pending, []
        return events


class EventFeed:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings.events
        self.credentials = CredentialChecks(db, clock, settings.auth.key_recheck_interval / 2)
        #: Whether changes of other processes wake this one (set by the services container:
        #: on PostgreSQL, while the LISTEN connection is up; always with SQLite).
        self.fed: Callable[[], bool] = lambda: True
        self.closing = False
        self.reads = 0  # sessions opened to read the log, for tests and the curious
        self._subs: dict[str, set[Subscription]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def poll_interval(self) -> float:
        return self.settings.safety_poll if self.fed() else self.settings.poll_interval

    def subscribe(self, task_id: str, after: int) -> Subscription:
        sub = Subscription(task_id, after)
        if self.closing:
            sub.woken.set()
            return sub
        self._subs.setdefault(task_id, set()).add(sub)
        self.changed({task_id})  # its history is read at once
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="runyard-feed")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.task_id]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def cursors(self, task_id: str) -> list[int]:
        """The last event id handed to each subscription of the task (tests wait on it)."""
        return sorted(s.after for s in self._subs.get(task_id, ()))

    def changed(self, task_ids: set[str] | None) -> None:
        """Committed changes of these tasks (None: of any task) are to be read."""
        wanted = self._subs.keys() if task_ids is None else task_ids & self._subs.keys()
        if wanted:
            self._dirty |= wanted
            self._wake.set()

    def close(self) -> None:
        """The process is stopping: wake every stream so it says goodbye and ends."""
        self.closing = True
        for subs in self._subs.values():
            for sub in subs:
                sub.woken.set()
        self._wake.set()

    async def stop(self) -> None:
        self.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self.closing:
            if not self._dirty:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    self._dirty |= self._subs.keys()  # the safety poll
            self._wake.clear()
            dirty, self._dirty = sorted(self._dirty & self._subs.keys()), set()
            for start in range(0, len(dirty), CHUNK):
                chunk = dirty[start : start + CHUNK]
                try:
                    await self._read(chunk)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("reading the event log failed; retrying")
                    self._dirty.update(chunk)
                    await asyncio.sleep(min(1.0, self.settings.poll_interval))

    async def _read(self, task_ids: list[str]) -> None:
        # Only the subscriptions present now are served: one that joins during the read has a
        # cursor the read may have started past, so its task is read again for it.
        subs = {t: list(self._subs.get(t, ())) for t in task_ids}
        cursors = {t: min(s.after for s in ss) for t, ss in subs.items() if ss}
        if not cursors:
            return
        self.reads += 1
        async with self.db.session() as session:
            log_ = EventLog(session)
            statuses = await log_.statuses(list(cursors))
            rows = await log_.after(cursors, ROWS)
        complete = set(cursors)
        if len(rows) >= ROWS:
            # The answer stopped inside the last task it reached: only the tasks before that
            # one are complete; the rest are read again at once (from their new cursors).
            complete = {r.task_id for r in rows} - {rows[-1].task_id}
            again = set(cursors) - complete
            self._dirty |= again
            self._wake.set()
        by_task: dict[str, list[EventRow]] = {}
        for row in rows:
            by_task.setdefault(row.task_id, []).append(row)
        for task_id, ss in subs.items():
            events = by_task.get(task_id, [])
            status = statuses.get(task_id)
            finished = task_id in complete and (status is None or status in TERMINAL)
            for sub in ss:
                mine = [e for e in events if e.seq > sub.after]
                if mine:
                    sub.pending.extend(mine)
                    sub.after = mine[-1].seq
                if finished:
                    sub.finished = True
                if mine or finished:
                    sub.woken.set()
