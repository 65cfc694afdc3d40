"""The unit of work: one session, one commit, then the side effects.

Everything that changes the database goes through a ``UnitOfWork``: a request (the
``UnitDep`` dependency commits it once the route returns), a gateway frame, a scheduler pass.
Services and repositories never commit; they record what must happen *after* the commit:

- ``task_changed(task_id, wake=...)``: event streams following the task are woken, and the
  dispatcher too when work became schedulable or capacity was freed (on PostgreSQL in every
  server process: the wake-ups announce it, see ``runyard.db.notify``);
- ``after_commit(hook)``: a send to an agent, a storage delete, anything that must not happen
  unless the transaction is durable;
- ``before_commit(hook)``: writes that must join this very transaction but need a query first
  (the webhook outbox rows of a task that just ended), run just before the commit;
- ``wake_webhooks()``: the webhook delivery worker of this process is woken after the commit;
- ``memo``: what the transaction has read and may read again (the webhook outbox's lookup of a
  team's webhooks, once per unit however many of its tasks end), emptied when it ends.

A ``RunyardError`` raised with ``commit_first=True`` commits what was done, then refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.db.observer import NoObserver, TransitionObserver

log = logging.getLogger("runyard.db")
AfterCommit = Callable[[], Awaitable[None]]
_active: ContextVar[AsyncSession | None] = ContextVar("runyard_active_session", default=None)


def connection_held() -> bool:
    """Whether the current task has a transaction open (a pooled connection checked out).
    Network calls must not happen then; a test guard around the store asserts it."""
    session = _active.get()
    return session is not None and session.in_transaction()


def track(session: AsyncSession | None) -> None:
    """Record the session the current task works in (``Database`` does, per unit of work)."""
    _active.set(session)


class Wakeups(Protocol):
    """Who hears about committed task changes (event streams, the dispatcher)."""

    def tasks_changed(self, task_ids: set[str], wake_dispatcher: bool) -> None: ...

    def webhooks_due(self) -> None: ...


class NoWakeups:
    def tasks_changed(self, task_ids: set[str], wake_dispatcher: bool) -> None:
        return None

    def webhooks_due(self) -> None:
        return None


class UnitOfWork:
    def __init__(
        self,
        session: AsyncSession,
        wakeups: Wakeups,
        observer: TransitionObserver | None = None,
    ) -> None:
        self.session = session
        self._wakeups = wakeups
        self.observer: TransitionObserver = observer or NoObserver()
        self._changed: set[str] = set()
        self._wake = False
        self._hooks: list[AfterCommit] = []
        self._before: list[AfterCommit] = []
        self._webhooks = False
        self.memo: dict[tuple[str, ...], Any] = {}

    def task_changed(self, task_id: str, *, wake: bool = False) -> None:
        self._changed.add(task_id)
        self._wake = self._wake or wake

    def wake_dispatcher(self) -> None:
        self._wake = True

    def after_commit(self, hook: AfterCommit) -> None:
        self._hooks.append(hook)

    def before_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` inside this transaction just before it commits (a failing hook fails
        the commit: nothing of the unit is kept)."""
        self._before.append(hook)

    def wake_webhooks(self) -> None:
        self._webhooks = True

    async def commit(self) -> None:
        """Commit, then announce the changes and run the hooks (a failing hook is logged: the
        transaction is already durable, and the reaper or a reconnect repairs a lost send)."""
        while self._before:
            before, self._before = self._before, []
            for hook in before:
                await hook()
        await self.session.commit()
        self.memo.clear()
        changed, wake, hooks = self._changed, self._wake, self._hooks
        self._changed, self._wake, self._hooks = set(), False, []
        if changed or wake:
            self._wakeups.tasks_changed(changed, wake)
        if self._webhooks:
            self._webhooks = False
            self._wakeups.webhooks_due()
        for hook in hooks:
            try:
                await hook()
            except Exception:
                log.exception("after-commit hook failed")

    async def rollback(self) -> None:
        self._changed, self._wake, self._hooks = set(), False, []
        self._before, self._webhooks = [], False
        self.memo.clear()
        await self.session.rollback()
