"""Heartbeats kept in memory: the process that holds an agent's connection knows it is alive
(``Connection.last_seen``, stamped on every frame's arrival), and ``LivenessWriter`` writes the
last heartbeat of all its connections to the database in one statement per interval. So a
heartbeat that changes nothing costs no transaction, however many agents are connected.

Written at once, as before, is only what others must see: a change of health or draining (it
wakes the dispatcher when the agent became available) and a change of ``system_info``.

Lost-agent detection is unchanged: the reaper judges an agent connected here by ``last_seen``
(see ``scheduler/reaper.py``), and an agent connected to another process by the database's
``last_heartbeat``, which that process's writer keeps at most ``interval`` behind; the interval
is capped at a quarter of ``heartbeat_interval × heartbeat_misses``.

The ``drop_tasks`` answer: a heartbeat whose reported tasks were all assigned on this
connection is answered at once with nothing to drop; those reports are checked against the
database by the writer, for every connection in one read, and a stale one is dropped with a
``HeartbeatAck`` then. A report naming a task this connection does not know is read at once."""

from __future__ import annotations

from typing import Any, Protocol

from runyard.agents.health import effective_health, healthy_runtimes
from runyard.agents.repository import AgentRepository
from runyard.agents.service import AgentService
from runyard.background import BackgroundLoop
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.gateway.reconcile import stale_reports
from runyard.gateway.registry import Connection, Gateway
from runyard.settings import Settings
from runyard.states import HELD
from runyard.tasks.execution import AgentRef
from runyard.tasks.repository import HeldAttempt, TaskQueue
from runyard.workflows.preflight import ComfyUICapabilities
from runyard_protocol import Heartbeat, HeartbeatAck, RunningTask


class Handler(Protocol):
    """What a heartbeat needs of the connection's frame handler (``gateway/handlers.py``)."""

    db: Database
    clock: Clock
    gateway: Gateway
    conn: Connection
    me: AgentRef

    async def reply(self, frame: Any) -> None: ...


def write_interval(settings: Settings) -> float:
    s = settings.scheduler
    return min(s.liveness_interval, s.heartbeat_interval * s.heartbeat_misses / 4)


async def heartbeat(handler: Handler, frame: Heartbeat) -> None:
    conn, gateway = handler.conn, handler.gateway
    if gateway.get(conn.team_id, conn.agent_id) is not conn:
        return  # replaced by a newer connection, or judged lost: it gets no answer
    now = conn.last_seen or handler.clock.now()
    runtimes = healthy_runtimes(frame.system_info, conn.runtimes)
    healthy = effective_health(frame.healthy, conn.labels, runtimes)
    changed = (healthy, frame.draining) != (conn.healthy, conn.draining) or (
        frame.system_info is not None and frame.system_info != conn.system_info
    )
    known = all((r.task_id, r.attempt) in conn.granted for r in frame.running_tasks)
    drop: list[RunningTask] = []
    if changed or not known:
        async with handler.db.unit() as uow:
            if changed:
                agent = await AgentService(uow).heartbeat(
                    conn.team_id,
                    conn.agent_id,
                    conn.connection_id,
                    now,
                    healthy=healthy,
                    draining=frame.draining,
                    system_info=frame.system_info,
                )
                if agent is None:
                    return
                conn.heartbeat_written = now
            if not known:
                drop = await stale_reports(TaskQueue(uow.session), handler.me, frame.running_tasks)
    conn.healthy, conn.draining = healthy, frame.draining
    conn.runtimes = runtimes
    if frame.system_info is not None:
        conn.system_info = frame.system_info
    # A report without them (ComfyUI down for a moment) keeps the last known ones.
    conn.comfyui = ComfyUICapabilities.of(frame.system_info) or conn.comfyui
    conn.reported = list(frame.running_tasks) if known else []
    await handler.reply(HeartbeatAck(drop_tasks=drop))


class LivenessWriter(BackgroundLoop):
    """Every ``interval``: one statement writes the last heartbeat of every connection of this
    process heard from since its last write, and one read checks the tasks they report."""

    name = "liveness"

    def __init__(self, db: Database, settings: Settings, clock: Clock, gateway: Gateway) -> None:
        super().__init__(write_interval(settings))
        self.db = db
        self.gateway = gateway
        self.writes = 0  # statements sent, for tests and the curious

    async def run_once(self) -> object:
        conns = self.gateway.all_connections()
        due = {
            c.connection_id: c.last_seen
            for c in conns
            if c.last_seen is not None
            and (c.heartbeat_written is None or c.last_seen > c.heartbeat_written)
        }
        reported = [c for c in conns if c.reported]
        if not due and not reported:
            return None
        async with self.db.unit() as uow:
            if due:
                await AgentRepository(uow.session).record_heartbeats(due)
                self.writes += 1
            attempts = await TaskQueue(uow.session).attempts_of(
                {r.task_id for c in reported for r in c.reported}
            )
        for c in conns:
            seen = due.get(c.connection_id)
            if seen is not None:
                c.heartbeat_written = seen
        await self._drop_stale(reported, {a.id: a for a in attempts})
        return None

    async def _drop_stale(
        self, reported: list[Connection], attempts: dict[str, HeldAttempt]
    ) -> None:
        for conn in reported:
            me = AgentRef(conn.team_id, conn.agent_id)
            stale = [r for r in conn.reported if not current(attempts.get(r.task_id), me, r)]
            if stale:
                conn.reported = [r for r in conn.reported if r not in stale]
                await self.gateway.send(conn, HeartbeatAck(drop_tasks=stale))


def current(attempt: HeldAttempt | None, me: AgentRef, report: RunningTask) -> bool:
    """Whether the reported task is still this agent's current attempt."""
    return (
        attempt is not None
        and attempt.team_id == me.team_id
        and attempt.agent_id == me.agent_id
        and attempt.task_status in HELD
        and attempt.attempt == report.attempt
    )
