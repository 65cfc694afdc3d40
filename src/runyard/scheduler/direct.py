"""A dispatcher pass on PostgreSQL through the driver: the same claims and the same choices as
the general pass, in four round trips (begin, held counts, claim a page, commit) plus one
statement that moves every assigned task to ``queued`` and appends its event, instead of an ORM
unit of work loading whole rows and flushing them one by one.

Only assignments happen here. A task it cannot assign as it stands (its workflow version is
gone, an input expired: the general pass fails those) is left pending and the next pass is a
general one; judging ``waiting`` stays in the general pass too, which runs at most once per poll
interval.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runyard.clock import iso_z
from runyard.db.engine import Database
from runyard.gateway.registry import Connection
from runyard.metrics.registry import observe_assign
from runyard.models import StoredFile, Task, WorkflowVersion
from runyard.scheduler.assignments import (
    InputExpired,
    build_assign,
    file_parameters,
    signed_inputs,
)
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard_protocol import AssignedInput, TaskAssign

_HELD = """
SELECT team_id, agent_id, count(*) AS held FROM tasks
WHERE agent_id = ANY($1::text[]) AND task_status IN ('queued', 'running')
GROUP BY team_id, agent_id
"""

_COLUMNS = (
    "id, team_id, workflow_id, workflow_slug, workflow_version, parameters, required_labels, "
    "task_timeout, attempt, created_at"
)
_CLAIM = f"""
SELECT {_COLUMNS} FROM tasks
WHERE team_id = $1 AND task_status IN ('pending', 'waiting')
ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
_CLAIM_AFTER = f"""
SELECT {_COLUMNS} FROM tasks
WHERE team_id = $1 AND task_status IN ('pending', 'waiting') AND (created_at, id) > ($3, $4)
ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
"""

_FILES = """
SELECT file_key, file_name, content_type, file_size, file_status, expires_at FROM files
WHERE team_id = $1 AND file_key = ANY($2::text[])
"""

_QUEUE = """
WITH a AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[])
        AS a(id, agent_id, attempt, data)
), t AS (
    UPDATE tasks SET task_status = 'queued', agent_id = a.agent_id, attempt = a.attempt,
        assigned_at = $5, event_seq = tasks.event_seq + 1
    FROM a WHERE tasks.id = a.id
    RETURNING tasks.id, tasks.event_seq, a.data
)
INSERT INTO task_events (task_id, seq, event, data, created_at)
SELECT id, event_seq, 'status', data::json, $5 FROM t
"""


def _json(value: Any) -> Any:
    """A JSON column as the driver hands it: decoded already on SQLAlchemy's connections (it
    registers a codec), text on a bare one."""
    return json.loads(value) if isinstance(value, str) else value


def _task(row: Any) -> Task:
    """A claimed row as a transient ``Task`` (never added to a session): what the choice of an
    agent and the assignment frame read."""
    return Task(
        id=row["id"],
        team_id=row["team_id"],
        workflow_id=row["workflow_id"],
        workflow_slug=row["workflow_slug"],
        workflow_version=row["workflow_version"],
        parameters=_json(row["parameters"]),
        required_labels=_json(row["required_labels"]),
        task_timeout=row["task_timeout"],
        attempt=row["attempt"],
        created_at=row["created_at"],
    )


@dataclass
class Claimed:
    """What a direct pass did: the frames to send after its commit, the tasks it claimed and
    left, and whether the next pass must be a general one."""

    sends: list[tuple[Connection, TaskAssign]]
    left: list[str]
    needs_general: bool


Versions = Callable[[Task], Awaitable[WorkflowVersion | None]]  # the task's, cached
Pick = Callable[[Task, WorkflowVersion | None, list[Connection], dict[int, int]], Connection | None]


class DirectPass:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        storage: Storage,
        versions: Versions,
        pick: Pick,
        claim_batch: int,
        claim_page: int,
    ) -> None:
        self.db = db
        self.settings = settings
        self.storage = storage
        self.versions = versions
        self.pick = pick
        self.claim_batch = claim_batch
        self.claim_page = claim_page

    async def run(self, conns: list[Connection], now: datetime) -> Claimed:
        result = Claimed([], [], False)
        async with self.db.driver() as pg, pg.transaction():
            held = {
                (r["team_id"], r["agent_id"]): int(r["held"])
                for r in await pg.fetch(_HELD, list({c.agent_id for c in conns}))
            }
            free = {id(c): c.capacity - held.get((c.team_id, c.agent_id), 0) for c in conns}
            chosen: list[tuple[Task, Connection, TaskAssign]] = []
            for team_id in {c.team_id for c in conns}:
                agents = [c for c in conns if c.team_id == team_id and free[id(c)] > 0]
                await self._team(pg, now, team_id, agents, free, chosen, result)
            if chosen:
                await pg.execute(
                    _QUEUE,
                    [t.id for t, _, _ in chosen],
                    [c.agent_id for _, c, _ in chosen],
                    [t.attempt for t, _, _ in chosen],
                    [_event(t.id, now) for t, _, _ in chosen],
                    now,
                )
        for task, conn, frame in chosen:
            observe_assign(self.db, task.created_at, now)
            result.sends.append((conn, frame))
        if chosen:
            self.db.wakeups.tasks_changed({t.id for t, _, _ in chosen}, False)
        return result

    async def _team(
        self,
        pg: Any,
        now: datetime,
        team_id: str,
        agents: list[Connection],
        free: dict[int, int],
        chosen: list[tuple[Task, Connection, TaskAssign]],
        result: Claimed,
    ) -> None:
        """The general pass's page loop (``Dispatcher._assign``) for one team."""
        page = min(self.claim_batch, max(self.claim_page, 2 * sum(free[id(c)] for c in agents)))
        after: tuple[datetime, str] | None = None
        seen = 0
        while agents and seen < self.claim_batch:
            if after is None:
                rows = await pg.fetch(_CLAIM, team_id, page)
            else:
                rows = await pg.fetch(_CLAIM_AFTER, team_id, page, *after)
            claimed = [_task(r) for r in rows]
            seen += len(claimed)
            taken: set[str] = set()
            for task in claimed:
                version = await self.versions(task)
                conn = self.pick(task, version, agents, free)
                if conn is None:
                    continue
                taken.add(task.id)
                frame = await self._assign(pg, task, version, conn, now)
                if frame is None:
                    result.needs_general = True
                    continue
                free[id(conn)] -= 1
                chosen.append((task, conn, frame))
                if not any(free[id(c)] > 0 for c in agents):
                    break
            result.left += [t.id for t in claimed if t.id not in taken]
            if len(claimed) < page or not any(free[id(c)] > 0 for c in agents):
                break
            after = (claimed[-1].created_at, claimed[-1].id)

    async def _assign(
        self, pg: Any, task: Task, version: WorkflowVersion | None, conn: Connection, now: datetime
    ) -> TaskAssign | None:
        """The frame for ``task`` on ``conn``, or None when only the general pass can decide."""
        if version is None:
            return None
        try:
            inputs = await self._inputs(pg, task, version, now)
        except InputExpired:
            return None
        task.attempt += 1
        task.agent_id = conn.agent_id
        return build_assign(task, version, inputs)

    async def _inputs(
        self, pg: Any, task: Task, version: WorkflowVersion, now: datetime
    ) -> list[AssignedInput]:
        params = file_parameters(version, task)
        if not params:
            return []
        rows = await pg.fetch(_FILES, task.team_id, list(params.values()))
        files = {r["file_key"]: StoredFile(**dict(r)) for r in rows}
        for key, file_key in params.items():
            f = files.get(file_key)
            if f is None or f.file_status == "expired" or f.expires_at <= now:
                raise InputExpired(key)
        return signed_inputs(files, params, self.storage, self.settings.limits.agent_url_ttl)


def _event(task_id: str, now: datetime) -> str:
    return json.dumps({"task_id": task_id, "task_status": "queued", "timestamp": iso_z(now)})
