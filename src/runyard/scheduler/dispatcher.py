"""The dispatcher: hands schedulable tasks to agents connected to *this* process.

Policy over ``TaskQueue``: claiming is race-free across server processes (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite has one writer). A pass commits once for all its assignments,
then sends the frames (after-commit hooks). New tasks and freed capacity wake it at once; a
slow poll is the fallback for changes made by other processes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from runyard.agents.health import healthy_runtimes
from runyard.agents.repository import AgentRepository
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.db.unit import UnitOfWork
from runyard.gateway.registry import Connection, Gateway
from runyard.models import Task, WorkflowVersion
from runyard.scheduler.claims import After, assign_team
from runyard.scheduler.direct import DirectPass
from runyard.settings import Settings
from runyard.states import TaskStatus
from runyard.storage.base import Storage
from runyard.tasks import lifecycle
from runyard.tasks.assignments import InputExpired, build_assign, load_inputs, signed_bundle
from runyard.tasks.repository import TaskQueue
from runyard.workflows.preflight import ComfyUICapabilities
from runyard.workflows.python_preflight import fits, requirements_of
from runyard.workflows.requirements import Requirements, graph_requirements
from runyard_protocol import TaskAssign

log = logging.getLogger("runyard.scheduler")
CLAIM_BATCH = 100  # tasks a pass looks at, at most, per team
CLAIM_PAGE = 8  # tasks claimed at least per page
JUDGE_BATCH = 500
HANDED_OFF = 10_000  # task ids remembered as already handed to the other processes
VERSIONS_KEPT = 256


class Dispatcher(BackgroundLoop):
    name = "dispatcher"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        storage: Storage,
        clock: Clock,
        gateway: Gateway,
        *,
        fast_pass: type[DirectPass] | None = None,
    ) -> None:
        super().__init__(settings.scheduler.poll_interval)
        self.db = db
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.gateway = gateway
        self._last_judged: datetime | None = None
        #: Tells the other server processes to look at the queue (PostgreSQL; set by the
        #: services container). A pass locks the tasks it claims; another process woken for one
        #: of them meanwhile skips it (SKIP LOCKED), so tasks claimed here and left for others
        #: are handed off once the pass commits, instead of waiting for their next poll.
        self.hand_off: Callable[[], None] | None = None
        self._handed_off: OrderedDict[str, None] = OrderedDict()
        self._left_for_others = False
        # Workflow versions never change once imported: kept per process (LRU).
        self._versions: OrderedDict[tuple[str, int], WorkflowVersion] = OrderedDict()
        # Passes that only assign, through the driver where the services chose one
        # (PostgreSQL: scheduler/direct.py); the general pass otherwise and for the rest.
        self.direct = (
            fast_pass(
                db,
                settings,
                storage,
                lambda task: self._version(task, None),
                self._pick,
                CLAIM_BATCH,
                CLAIM_PAGE,
            )
            if fast_pass is not None
            else None
        )
        self._general_next = False

    async def run_once(self) -> object:
        return await self.dispatch_once()

    async def dispatch_once(self) -> int:
        """One pass; returns how many tasks were assigned."""
        conns = self.gateway.ready_connections()
        sends: list[tuple[Connection, TaskAssign]] = []
        now = self.clock.now()
        self._left_for_others = False
        judge = self._last_judged is None or (now - self._last_judged).total_seconds() >= (
            self.settings.scheduler.poll_interval
        )
        if self.direct is not None and conns and not judge and not self._general_next:
            claimed = await self.direct.run(conns, now)
            self._leave(claimed.left)
            if claimed.needs_general:  # a task only the general pass can settle
                self._general_next = True
                self.wake()
            await self._send(claimed.sends)
            if self._left_for_others:
                await self._hand_off()
            return len(claimed.sends)
        self._general_next = False
        async with self.db.unit() as uow:
            if conns:
                sends = await self._assign(uow, conns)
            if judge:
                self._last_judged = now
                await self._mark_waiting(uow)
            if sends:
                uow.after_commit(lambda: self._send(sends))
            if self._left_for_others:
                uow.after_commit(self._hand_off)
        return len(sends)

    async def _hand_off(self) -> None:
        if self.hand_off is not None:
            self.hand_off()

    def _leave(self, task_ids: list[str]) -> None:
        """Tasks this pass claimed and did not assign: handed off once each (a task nobody's
        agents can take is not bounced between processes)."""
        for task_id in task_ids:
            if task_id not in self._handed_off:
                self._handed_off[task_id] = None
                self._left_for_others = True
        while len(self._handed_off) > HANDED_OFF:
            self._handed_off.popitem(last=False)

    async def _send(self, sends: list[tuple[Connection, TaskAssign]]) -> None:
        for conn, frame in sends:
            log.info(
                "assigned task=%s attempt=%d agent=%s", frame.task_id, frame.attempt, conn.agent_id
            )
            conn.assigned(frame.task_id, frame.attempt)
            await self.gateway.send(conn, frame)

    async def _assign(
        self, uow: UnitOfWork, conns: list[Connection]
    ) -> list[tuple[Connection, TaskAssign]]:
        queue = TaskQueue(uow.session)
        now = self.clock.now()
        free: dict[int, int] = {}
        teams = {c.team_id for c in conns}
        for team_id in teams:
            mine = [c for c in conns if c.team_id == team_id]
            counts = await AgentRepository(queue.session).held_counts(
                team_id, [c.agent_id for c in mine]
            )
            for c in mine:
                free[id(c)] = c.capacity - counts.get(c.agent_id, 0)
        sends: list[tuple[Connection, TaskAssign]] = []

        async def assign(
            task: Task, version: WorkflowVersion | None, conn: Connection
        ) -> TaskAssign | None:
            return await self._assign_one(uow, task, version, conn, now)

        for team_id in teams:

            async def claim(
                key: str, page: int, after: After, team_id: str = team_id
            ) -> list[Task]:
                return await queue.claim_schedulable(team_id, key, page, after=after)

            async def keys(team_id: str = team_id) -> list[str]:
                return await queue.schedulable_keys(team_id)

            assigned, left = await assign_team(
                [c for c in conns if c.team_id == team_id and free[id(c)] > 0],
                free,
                keys=keys,
                claim=claim,
                version=lambda task: self._version(task, queue),
                pick=self._pick,
                assign=assign,
                batch=CLAIM_BATCH,
                page_min=CLAIM_PAGE,
            )
            sends += [(conn, frame) for conn, frame, _ in assigned]
            self._leave(left)
        return sends

    async def _version(self, task: Task, queue: TaskQueue | None) -> WorkflowVersion | None:
        """The task's workflow version, from the per-process cache, else read through ``queue``
        (the pass's unit of work) or a session of its own."""
        ref = (task.workflow_id, task.workflow_version)
        version = self._versions.get(ref)
        if version is None:
            if queue is not None:
                version = await queue.version_of(task)
            else:
                async with self.db.session() as session:
                    version = await TaskQueue(session).version_of(task)
            if version is None:
                return None
            self._versions[ref] = version
            while len(self._versions) > VERSIONS_KEPT:
                self._versions.popitem(last=False)
        self._versions.move_to_end(ref)
        return version

    @staticmethod
    def _pick(
        task: Task, version: WorkflowVersion | None, agents: list[Connection], free: dict[int, int]
    ) -> Connection | None:
        """The agent to take the task: one with a free slot, the labels, the runtime and (for a
        ComfyUI graph) its node classes and models; those already holding the models first
        (a model not on the agent would cost a download), then the most free slots."""
        tool = version.tool_type if version is not None else "python"
        needed = set(task.required_labels)
        needs = task_requirements(task, version)
        python = requirements_of(version.workflow_json) if version is not None else []
        eligible = [
            c
            for c in agents
            if free[id(c)] > 0
            and needed <= c.labels
            and tool in c.runtimes
            and (c.comfyui is None or not c.comfyui.missing(needs, dispatching=True))
            and fits(python, c.system_info)
        ]
        if not eligible:
            return None
        return max(
            eligible, key=lambda c: (c.comfyui.holds(needs) if c.comfyui else 0, free[id(c)])
        )

    async def _assign_one(
        self,
        uow: UnitOfWork,
        task: Task,
        version: WorkflowVersion | None,
        conn: Connection,
        now: datetime,
    ) -> TaskAssign | None:
        if version is None:
            lifecycle.fail(
                uow,
                task,
                now,
                "workflow_not_found",
                "The workflow version of this task no longer exists.",
            )
            return None
        try:
            inputs = await load_inputs(uow.session, task, version, self.storage, self.settings, now)
        except InputExpired as exc:
            lifecycle.fail(
                uow,
                task,
                now,
                "input_expired",
                f"The input {exc.parameter!r} expired before an agent could take the "
                "task (inputs are kept 1 day); upload it again and resubmit.",
            )
            return None
        task.attempt += 1
        task.agent_id = conn.agent_id
        lifecycle.move(uow, task, TaskStatus.QUEUED, now)
        ttl = self.settings.limits.agent_url_ttl
        return build_assign(task, version, inputs, signed_bundle(version, self.storage, ttl))

    async def _mark_waiting(self, uow: UnitOfWork) -> None:
        """Pending tasks that no connected, healthy agent of their team could take: none has
        the labels, or none has a healthy runtime for the workflow's tool type."""
        queue = TaskQueue(uow.session)
        now = self.clock.now()
        # Judged at most once per poll interval, and only tasks older than that: a new task
        # belongs first to the process whose agents can claim it.
        fresh = timedelta(seconds=self.settings.scheduler.poll_interval)
        pending = await queue.claim_pending(now - fresh, JUDGE_BATCH)
        if not pending:
            return
        able: dict[str, list[tuple[set[str], set[str], ComfyUICapabilities | None, Any]]] = {}
        for a in await AgentRepository(uow.session).connected():
            if a.healthy:
                runtimes = healthy_runtimes(a.system_info, set(a.runtimes or ["python"]))
                caps = ComfyUICapabilities.of(a.system_info)
                able.setdefault(a.team_id, []).append(
                    (set(a.labels), runtimes, caps, a.system_info)
                )
        versions: dict[tuple[str, int], WorkflowVersion | None] = {}
        for task in pending:
            ref = (task.workflow_id, task.workflow_version)
            if ref not in versions:
                versions[ref] = await queue.version_of(task)
            version = versions[ref]
            tool = version.tool_type if version is not None else "python"
            needed = set(task.required_labels)
            needs = task_requirements(task, version)
            python = requirements_of(version.workflow_json) if version is not None else []
            if not any(
                needed <= labels
                and tool in runtimes
                and (caps is None or not caps.missing(needs, dispatching=True))
                and fits(python, info)
                for labels, runtimes, caps, info in able.get(task.team_id, [])
            ):
                lifecycle.move(uow, task, TaskStatus.WAITING, now)


_NOTHING = Requirements(frozenset(), frozenset())


def task_requirements(task: Task, version: WorkflowVersion | None) -> Requirements:
    """The node classes and models a ComfyUI task needs (nothing for other tools)."""
    if version is None or version.tool_type != "comfyui":
        return _NOTHING
    return graph_requirements(version.workflow_json, version.parameters, task.parameters)
