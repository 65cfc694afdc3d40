"""The reaper: every ``reap_interval`` it enforces the timers.

- ack timeout: an assignment not acknowledged in time goes back to the queue;
- ``task_timeout`` (from the ack): the task fails ``timed_out`` and its agent is told to abort;
- cancel grace: a running task whose agent never confirmed a cancel becomes ``cancelled``;
- lost agents (silent for ``heartbeat_misses`` intervals, connected or not): their tasks are
  retried with a new attempt up to ``max_retries``, then fail ``agent_lost``;
- keys revoked or expired elsewhere close their agents' connections.
Every query locks with SKIP LOCKED so several server processes can reap side by side.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.agents.repository import AgentRepository
from runyard.auth.repository import AuthRepository
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.models import Task
from runyard.settings import Settings
from runyard.tasks import lifecycle
from runyard_protocol import CloseReason

if TYPE_CHECKING:
    from runyard.gateway.registry import Gateway

log = logging.getLogger("runyard.reaper")
Cancel = tuple[str, str, str, int, str]  # team, agent, task, attempt, reason


class Reaper(BackgroundLoop):
    name = "reaper"

    def __init__(self, db: Database, settings: Settings, clock: Clock, gateway: Gateway) -> None:
        super().__init__(settings.scheduler.reap_interval)
        self.db = db
        self.settings = settings
        self.clock = clock
        self.gateway = gateway
        self._last_key_check = 0.0
        # After a (re)start, agents get one full silence window to reconnect before they are
        # judged: the server being down is not the agents' fault.
        self._started = time.monotonic()

    async def run_once(self) -> object:
        await self.reap_once()
        return None

    async def reap_once(self) -> None:
        cancels: list[Cancel] = []
        s = self.settings.scheduler
        judge = time.monotonic() - self._started >= s.heartbeat_interval * s.heartbeat_misses
        async with self.db.session() as session:
            await self._timers(session, cancels)
            lost_agents = await self._lost_agents(session) if judge else []
            # Evict before commit: the commit wakes the dispatcher, which must not hand the
            # retried tasks straight back to the agent that was just judged lost.
            evicted = [c for t, a in lost_agents if (c := self.gateway.evict(t, a)) is not None]
            await session.commit()
        for team_id, agent_id, task_id, attempt, reason in cancels:
            await self.gateway.send_cancel(team_id, agent_id, task_id, attempt, reason)
        for conn in evicted:
            await self.gateway.close(conn, CloseReason.HEARTBEAT_TIMEOUT)
        await self._deliver_cancels()
        if time.monotonic() - self._last_key_check >= self.settings.auth.key_recheck_interval:
            self._last_key_check = time.monotonic()
            await self._recheck_keys()

    async def _timers(self, session: AsyncSession, cancels: list[Cancel]) -> None:
        s = self.settings.scheduler
        now = self.clock.now()
        ack_before = now - timedelta(seconds=s.ack_timeout)
        grace_before = now - timedelta(seconds=s.cancel_grace)

        def due(
            status: str,
            assigned: datetime | None,
            started: datetime | None,
            timeout: int,
            cancel: datetime | None,
        ) -> bool:
            if status == "queued":
                return assigned is not None and assigned < ack_before
            if cancel is not None and cancel < grace_before:
                return True
            return started is not None and started < now - timedelta(seconds=timeout)

        # A light unlocked scan finds candidates; only those are locked and re-checked, so
        # the reaper never holds locks on healthy running tasks that agents are updating.
        rows = await session.execute(
            select(
                Task.id,
                Task.task_status,
                Task.assigned_at,
                Task.started_at,
                Task.task_timeout,
                Task.cancel_requested_at,
            ).where(Task.task_status.in_(("queued", "running")))
        )
        ids = [r[0] for r in rows.tuples() if due(*r[1:])]
        if not ids:
            return
        locked = await session.scalars(
            select(Task).where(Task.id.in_(ids)).with_for_update(skip_locked=True)
        )
        for task in locked:
            agent = task.agent_id or ""
            if (
                task.task_status == "queued"
                and task.assigned_at is not None
                and task.assigned_at < ack_before
            ):
                log.warning("ack timeout task=%s attempt=%d agent=%s", task.id, task.attempt, agent)
                cancels.append((task.team_id, agent, task.id, task.attempt, "reassigned"))
                lifecycle.retry_or_fail(
                    session,
                    task,
                    now,
                    f"Agent {agent!r} did not acknowledge the task within {s.ack_timeout:g} s",
                )
            elif (
                task.task_status == "running"
                and task.cancel_requested_at is not None
                and task.cancel_requested_at < grace_before
            ):
                log.warning(
                    "cancel not confirmed task=%s agent=%s; marking cancelled", task.id, agent
                )
                lifecycle.cancel(session, task, now)
            elif (
                task.task_status == "running"
                and task.started_at is not None
                and task.started_at < now - timedelta(seconds=task.task_timeout)
            ):
                log.warning("timeout task=%s attempt=%d agent=%s", task.id, task.attempt, agent)
                cancels.append((task.team_id, agent, task.id, task.attempt, "timed_out"))
                lifecycle.fail(
                    session,
                    task,
                    now,
                    "timed_out",
                    f"The task timed out after {task.task_timeout} s.",
                )

    async def _lost_agents(self, session: AsyncSession) -> list[tuple[str, str]]:
        s = self.settings.scheduler
        now = self.clock.now()
        silence = s.heartbeat_interval * s.heartbeat_misses
        lost = await AgentRepository(session).silent_since(now - timedelta(seconds=silence))
        found = []
        for agent in lost:
            found.append((agent.team_id, agent.agent_id))
            agent.connected = False
            agent.connection_id = None
            tasks = await session.scalars(
                select(Task)
                .where(
                    Task.team_id == agent.team_id,
                    Task.agent_id == agent.agent_id,
                    Task.task_status.in_(("queued", "running")),
                )
                .with_for_update(skip_locked=True)
            )
            for task in tasks:
                lifecycle.retry_or_fail(
                    session,
                    task,
                    now,
                    f"Agent {agent.agent_id!r} was lost (no heartbeat for {silence:g} s)",
                )
        return found

    async def _deliver_cancels(self) -> None:
        """Cancels requested through another server process reach agents connected here."""
        local = self.gateway.local_agent_keys()
        if not local:
            return
        async with self.db.session() as session:
            rows = await session.execute(
                select(Task.team_id, Task.agent_id, Task.id, Task.attempt).where(
                    Task.task_status == "running", Task.cancel_requested_at.is_not(None)
                )
            )
            wanted = [r for r in rows.tuples() if (r[0], r[1]) in local]
        for team_id, agent_id, task_id, attempt in wanted:
            assert agent_id is not None
            await self.gateway.send_cancel(
                team_id, agent_id, task_id, attempt, "cancelled", once=True
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
