"""The dispatcher: hands schedulable tasks to agents connected to *this* process.

Claiming is race-free across server processes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
has one writer). A pass commits once for all its assignments, then sends the frames. New tasks
and freed capacity wake it at once (commit listeners); a slow poll is the fallback for changes
made by other processes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.agents.repository import AgentRepository
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.models import Task, WorkflowVersion
from runyard.scheduler.assignments import InputExpired, build_assign, load_inputs
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tasks import lifecycle
from runyard.tasks.states import SCHEDULABLE
from runyard_protocol import TaskAssign

if TYPE_CHECKING:
    from runyard.gateway.registry import Connection, Gateway

log = logging.getLogger("runyard.scheduler")
CLAIM_BATCH = 100


class Dispatcher(BackgroundLoop):
    name = "dispatcher"

    def __init__(
        self, db: Database, settings: Settings, storage: Storage, clock: Clock, gateway: Gateway
    ) -> None:
        super().__init__(settings.scheduler.poll_interval)
        self.db = db
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.gateway = gateway

    async def run_once(self) -> object:
        return await self.dispatch_once()

    async def dispatch_once(self) -> int:
        """One pass; returns how many tasks were assigned."""
        conns = self.gateway.ready_connections()
        sends: list[tuple[Connection, TaskAssign]] = []
        async with self.db.session() as session:
            if conns:
                sends = await self._assign(session, conns)
            await self._mark_waiting(session)
            await session.commit()
        for conn, frame in sends:
            log.info(
                "assigned task=%s attempt=%d agent=%s", frame.task_id, frame.attempt, conn.agent_id
            )
            await self.gateway.send(conn, frame)
        return len(sends)

    async def _assign(
        self, session: AsyncSession, conns: list[Connection]
    ) -> list[tuple[Connection, TaskAssign]]:
        repo = AgentRepository(session)
        now = self.clock.now()
        free: dict[int, int] = {}
        for team_id in {c.team_id for c in conns}:
            mine = [c for c in conns if c.team_id == team_id]
            counts = await repo.running_counts(team_id, [c.agent_id for c in mine])
            for c in mine:
                free[id(c)] = c.capacity - counts.get(c.agent_id, 0)
        sends: list[tuple[Connection, TaskAssign]] = []
        for team_id in {c.team_id for c in conns}:
            agents = [c for c in conns if c.team_id == team_id and free[id(c)] > 0]
            if not agents:
                continue
            candidates = await session.scalars(
                select(Task)
                .where(Task.team_id == team_id, Task.task_status.in_(SCHEDULABLE))
                .order_by(Task.created_at, Task.id)
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True)
            )
            versions: dict[tuple[str, int], WorkflowVersion | None] = {}
            for task in candidates:
                ref = (task.workflow_id, task.workflow_version)
                if ref not in versions:
                    versions[ref] = await session.get(WorkflowVersion, ref)
                version = versions[ref]
                tool = version.tool_type if version is not None else "python"
                needed = set(task.required_labels)
                eligible = [
                    c
                    for c in agents
                    if free[id(c)] > 0 and needed <= c.labels and tool in c.runtimes
                ]
                if not eligible:
                    continue
                # Spread load: the agent with the most free slots takes the next task.
                conn = max(eligible, key=lambda c: free[id(c)])
                frame = await self._assign_one(session, task, conn, now)
                if frame is not None:
                    free[id(conn)] -= 1
                    sends.append((conn, frame))
                if not any(free[id(c)] > 0 for c in agents):
                    break
        return sends

    async def _assign_one(
        self, session: AsyncSession, task: Task, conn: Connection, now: datetime
    ) -> TaskAssign | None:
        version = await session.get(WorkflowVersion, (task.workflow_id, task.workflow_version))
        if version is None:
            lifecycle.fail(
                session,
                task,
                now,
                "workflow_not_found",
                "The workflow version of this task no longer exists.",
            )
            return None
        try:
            inputs = await load_inputs(session, task, version, self.storage, self.settings, now)
        except InputExpired as exc:
            lifecycle.fail(
                session,
                task,
                now,
                "input_expired",
                f"The input {exc.parameter!r} expired before an agent could take the "
                "task (inputs are kept 1 day); upload it again and resubmit.",
            )
            return None
        task.attempt += 1
        task.agent_id = conn.agent_id
        lifecycle.move(session, task, "queued", now)
        return build_assign(task, version, inputs)

    async def _mark_waiting(self, session: AsyncSession) -> None:
        """Pending tasks that no connected, healthy agent of their team could take: none has
        the labels, or none has a healthy runtime for the workflow's tool type."""
        from runyard.gateway.registry import healthy_runtimes

        pending = list(
            await session.scalars(
                select(Task)
                .where(Task.task_status == "pending")
                .order_by(Task.created_at)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        )
        if not pending:
            return
        agents = await AgentRepository(session).connected()
        able: dict[str, list[tuple[set[str], set[str]]]] = {}
        for a in agents:
            if a.healthy:
                runtimes = healthy_runtimes(a.system_info, set(a.runtimes or ["python"]))
                able.setdefault(a.team_id, []).append((set(a.labels), runtimes))
        tools: dict[tuple[str, int], str] = {}
        now = self.clock.now()
        for task in pending:
            ref = (task.workflow_id, task.workflow_version)
            if ref not in tools:
                version = await session.get(WorkflowVersion, ref)
                tools[ref] = version.tool_type if version is not None else "python"
            needed = set(task.required_labels)
            if not any(
                needed <= labels and tools[ref] in runtimes
                for labels, runtimes in able.get(task.team_id, [])
            ):
                lifecycle.move(session, task, "waiting", now)
