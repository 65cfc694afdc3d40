"""The reaper: every ``reap_interval`` it enforces the timers, as policy over ``TaskQueue``.

- ack timeout: an assignment not acknowledged in time goes back to the queue;
- ``task_timeout`` (from the ack): the task fails ``timed_out`` and its agent is told to abort;
- cancel grace: a running task whose agent never confirmed a cancel becomes ``cancelled``;
- lost agents (silent for ``heartbeat_misses`` intervals, connected or not): their tasks are
  retried with a new attempt up to ``max_retries``, then fail ``agent_lost``;
- keys revoked or expired elsewhere close their agents' connections.
Every lock is taken with SKIP LOCKED so several server processes can reap side by side. All time
comes from the injected clock, so tests drive every timer by moving it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from runyard.auth.repository import AuthRepository
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.gateway.registry import Connection, Gateway
from runyard.settings import SchedulerSettings, Settings
from runyard.states import TaskStatus
from runyard.tasks import lifecycle
from runyard.tasks.repository import TaskQueue, TimerRow
from runyard_protocol import CloseReason

log = logging.getLogger("runyard.reaper")
S = TaskStatus


@dataclass(frozen=True)
class Cancel:
    team_id: str
    agent_id: str
    task_id: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class Deadlines:
    """The instants before which a held task is overdue, from one reading of the clock."""

    now: datetime
    ack_before: datetime
    grace_before: datetime
    judge_acks: bool = True

    @classmethod
    def at(cls, now: datetime, s: SchedulerSettings, *, judge_acks: bool = True) -> Deadlines:
        return cls(
            now=now,
            ack_before=now - timedelta(seconds=s.ack_timeout),
            grace_before=now - timedelta(seconds=s.cancel_grace),
            judge_acks=judge_acks,
        )

    def ack_overdue(self, row: TimerRow) -> bool:
        return (
            self.judge_acks
            and row.task_status is S.QUEUED
            and (row.assigned_at is not None and row.assigned_at < self.ack_before)
        )

    def cancel_overdue(self, row: TimerRow) -> bool:
        return row.task_status is S.RUNNING and (
            row.cancel_requested_at is not None and row.cancel_requested_at < self.grace_before
        )

    def timed_out(self, row: TimerRow) -> bool:
        return row.task_status is S.RUNNING and (
            row.started_at is not None
            and row.started_at < self.now - timedelta(seconds=row.task_timeout)
        )

    def due(self, row: TimerRow) -> bool:
        return self.ack_overdue(row) or self.cancel_overdue(row) or self.timed_out(row)


class Reaper(BackgroundLoop):
    name = "reaper"

    def __init__(self, db: Database, settings: Settings, clock: Clock, gateway: Gateway) -> None:
        super().__init__(settings.scheduler.reap_interval)
        self.db = db
        self.settings = settings
        self.clock = clock
        self.gateway = gateway
        self._last_key_check: datetime | None = None
        self._started: datetime | None = None  # set by start(): when this process began reaping

    def start(self) -> None:
        self._started = self.clock.now()
        super().start()

    async def run_once(self) -> object:
        await self.reap_once()
        return None

    @property
    def silence(self) -> float:
        s = self.settings.scheduler
        return s.heartbeat_interval * s.heartbeat_misses

    async def reap_once(self) -> None:
        now = self.clock.now()
        # After a (re)start, agents get time to reconnect before they or their unacknowledged
        # assignments are judged: the server being down is not the agents' fault.
        grace = max(self.silence, self.settings.scheduler.restart_grace)
        judge = self._started is None or (now - self._started).total_seconds() >= grace
        async with self.db.unit() as uow:
            deadlines = Deadlines.at(now, self.settings.scheduler, judge_acks=judge)
            cancels = await self._timers(uow, deadlines)
            lost = await self._lost_agents(uow, now) if judge else []
            # Evict before commit: the commit wakes the dispatcher, which must not hand the
            # retried tasks straight back to the agent that was just judged lost.
            evicted = [c for t, a in lost if (c := self.gateway.evict(t, a)) is not None]
            uow.after_commit(lambda: self._notify(cancels, evicted))
        await self._deliver_cancels()
        last = self._last_key_check
        if last is None or (now - last).total_seconds() >= self.settings.auth.key_recheck_interval:
            self._last_key_check = now
            await self._recheck_keys()

    async def _notify(self, cancels: list[Cancel], evicted: list[Connection]) -> None:
        for c in cancels:
            await self.gateway.send_cancel(c.team_id, c.agent_id, c.task_id, c.attempt, c.reason)
        for conn in evicted:
            await self.gateway.close(conn, CloseReason.HEARTBEAT_TIMEOUT)

    async def _timers(self, uow: UnitOfWork, d: Deadlines) -> list[Cancel]:
        queue = TaskQueue(uow.session)
        # A light unlocked scan finds candidates; only those are locked and re-checked, so
        # the reaper never holds locks on healthy running tasks that agents are updating.
        due = [row.id for row in await queue.timer_candidates() if d.due(row)]
        cancels: list[Cancel] = []
        ack_timeout = self.settings.scheduler.ack_timeout
        for task in await queue.lock(due):
            row = TimerRow.of(task)  # re-checked under the lock
            agent = task.agent_id or ""
            if d.ack_overdue(row):
                log.warning("ack timeout task=%s attempt=%d agent=%s", task.id, task.attempt, agent)
                cancels.append(Cancel(task.team_id, agent, task.id, task.attempt, "reassigned"))
                lifecycle.retry_or_fail(
                    uow,
                    task,
                    d.now,
                    f"Agent {agent!r} did not acknowledge the task within {ack_timeout:g} s",
                )
            elif d.cancel_overdue(row):
                log.warning(
                    "cancel not confirmed task=%s agent=%s; marking cancelled", task.id, agent
                )
                lifecycle.cancel(uow, task, d.now)
            elif d.timed_out(row):
                log.warning("timeout task=%s attempt=%d agent=%s", task.id, task.attempt, agent)
                cancels.append(Cancel(task.team_id, agent, task.id, task.attempt, "timed_out"))
                lifecycle.fail(
                    uow,
                    task,
                    d.now,
                    "timed_out",
                    f"The task timed out after {task.task_timeout} s.",
                )
        return cancels

    async def _lost_agents(self, uow: UnitOfWork, now: datetime) -> list[tuple[str, str]]:
        queue = TaskQueue(uow.session)
        found = []
        for agent in await queue.silent_holders(now - timedelta(seconds=self.silence)):
            conn = self.gateway.get(agent.team_id, agent.agent_id)
            seen = conn.last_seen if conn is not None else None
            if seen is not None and (now - seen).total_seconds() < self.silence:
                # Connected here and heard from lately (any frame counts): its heartbeat is only
                # queued behind a busy database. Record the arrival instead of judging it lost.
                agent.last_heartbeat = seen
                continue
            found.append((agent.team_id, agent.agent_id))
            agent.connected = False
            agent.connection_id = None
            for task in await queue.held_by(agent.team_id, agent.agent_id, lock=True):
                lifecycle.retry_or_fail(
                    uow,
                    task,
                    now,
                    f"Agent {agent.agent_id!r} was lost (no heartbeat for {self.silence:g} s)",
                )
        return found

    async def _deliver_cancels(self) -> None:
        """Cancels requested through another server process reach agents connected here."""
        local = self.gateway.local_agent_keys()
        if not local:
            return
        async with self.db.session() as session:
            wanted = [
                t
                for t in await TaskQueue(session).cancel_requested()
                if (t.team_id, t.agent_id) in local
            ]
        for t in wanted:
            if t.agent_id is not None:
                await self.gateway.send_cancel(
                    t.team_id, t.agent_id, t.id, t.attempt, "cancelled", once=True
                )

    async def _recheck_keys(self) -> None:
        conns = self.gateway.all_connections()
        if not conns:
            return
        now = self.clock.now()
        async with self.db.session() as session:
            repo = AuthRepository(session)
            dead = [c for c in conns if not await repo.key_usable(c.key_id, now)]
        for conn in dead:
            await self.gateway.close(conn, CloseReason.INVALID_KEY)
