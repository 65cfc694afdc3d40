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
from dataclasses import dataclass
from datetime import datetime

from runyard.db.driver import DriverConnection, Record
from runyard.db.engine import Database
from runyard.gateway.registry import Connection
from runyard.models import StoredFile, Task, WorkflowVersion
from runyard.scheduler.claims import After, Assigned, Pick, Version, assign_team
from runyard.settings import Settings
from runyard.states import HELD, SCHEDULABLE, TaskStatus, sql_list
from runyard.storage.base import Storage
from runyard.tasks.assignments import (
    InputExpired,
    build_assign,
    check_unexpired,
    file_parameters,
    signed_bundle,
    signed_inputs,
)
from runyard.tasks.lifecycle import event_payload, status_data
from runyard.tasks.repository import queues_sql
from runyard_protocol import AssignedInput, TaskAssign

_HELD = f"""
SELECT team_id, agent_id, count(*) AS held FROM tasks
WHERE agent_id = ANY($1::text[]) AND task_status IN ({sql_list(HELD)})
GROUP BY team_id, agent_id
"""

_COLUMNS = (
    "id, team_id, workflow_id, workflow_slug, workflow_version, parameters, required_labels, "
    "task_timeout, attempt, created_at, rank_at"
)
_CLAIM = f"""
SELECT {_COLUMNS} FROM tasks
WHERE team_id = $1 AND requirement_key = $3 AND task_status IN ({sql_list(SCHEDULABLE)})
ORDER BY rank_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
_CLAIM_AFTER = f"""
SELECT {_COLUMNS} FROM tasks
WHERE team_id = $1 AND requirement_key = $3 AND task_status IN ({sql_list(SCHEDULABLE)})
    AND (rank_at, id) > ($4, $5)
ORDER BY rank_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
"""
_KEYS = queues_sql("$1")

_FILES = """
SELECT file_key, file_name, content_type, file_size, file_status, expires_at FROM files
WHERE team_id = $1 AND file_key = ANY($2::text[])
"""

_QUEUE = f"""
WITH a AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[])
        AS a(id, agent_id, attempt, data)
), t AS (
    UPDATE tasks SET task_status = '{TaskStatus.QUEUED}', agent_id = a.agent_id,
        attempt = a.attempt, assigned_at = $5, event_seq = tasks.event_seq + 1
    FROM a WHERE tasks.id = a.id
    RETURNING tasks.id, tasks.event_seq, a.data
)
INSERT INTO task_events (task_id, seq, event, data, created_at)
SELECT id, event_seq, 'status', data::json, $5 FROM t
"""


def _task(row: Record) -> Task:
    """A claimed row as a transient ``Task`` (never added to a session): what the choice of an
    agent and the assignment frame read. JSON columns arrive decoded: SQLAlchemy registers a
    codec on its connections, which ``Database.driver`` hands out."""
    return Task(
        id=row["id"],
        team_id=row["team_id"],
        workflow_id=row["workflow_id"],
        workflow_slug=row["workflow_slug"],
        workflow_version=row["workflow_version"],
        parameters=row["parameters"],
        required_labels=row["required_labels"],
        task_timeout=row["task_timeout"],
        attempt=row["attempt"],
        created_at=row["created_at"],
        rank_at=row["rank_at"],
    )


@dataclass
class Claimed:
    """What a direct pass did: the frames to send after its commit, the tasks it claimed and
    left, and whether the next pass must be a general one."""

    sends: list[tuple[Connection, TaskAssign]]
    left: list[str]
    needs_general: bool


class DirectPass:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        storage: Storage,
        versions: Version,
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
            chosen: list[Assigned] = []
            for team_id in {c.team_id for c in conns}:
                agents = [c for c in conns if c.team_id == team_id and free[id(c)] > 0]
                chosen += await self._team(pg, now, team_id, agents, free, result)
            if chosen:
                await pg.execute(
                    _QUEUE,
                    [t.id for _, _, t in chosen],
                    [c.agent_id for c, _, _ in chosen],
                    [t.attempt for _, _, t in chosen],
                    [_event(t.id, now) for _, _, t in chosen],
                    now,
                )
        for conn, frame, task in chosen:
            self.db.observer.task_queued(task.created_at, now)
            result.sends.append((conn, frame))
        if chosen:
            self.db.wakeups.tasks_changed({t.id for _, _, t in chosen}, False)
        return result

    async def _team(
        self,
        pg: DriverConnection,
        now: datetime,
        team_id: str,
        agents: list[Connection],
        free: dict[int, int],
        result: Claimed,
    ) -> list[Assigned]:
        """The shared page loop (``claims.py``) for one team, through the driver."""

        async def keys() -> list[str]:
            return [r["k"] for r in await pg.fetch(_KEYS, team_id)]

        async def claim(key: str, page: int, after: After) -> list[Task]:
            if after is None:
                return [_task(r) for r in await pg.fetch(_CLAIM, team_id, page, key)]
            return [_task(r) for r in await pg.fetch(_CLAIM_AFTER, team_id, page, key, *after)]

        async def assign(
            task: Task, version: WorkflowVersion | None, conn: Connection
        ) -> TaskAssign | None:
            frame = await self._assign(pg, task, version, conn, now)
            result.needs_general = result.needs_general or frame is None
            return frame

        assigned, left = await assign_team(
            agents,
            free,
            keys=keys,
            claim=claim,
            version=self.versions,
            pick=self.pick,
            assign=assign,
            batch=self.claim_batch,
            page_min=self.claim_page,
        )
        result.left += left
        return assigned

    async def _assign(
        self,
        pg: DriverConnection,
        task: Task,
        version: WorkflowVersion | None,
        conn: Connection,
        now: datetime,
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
        ttl = self.settings.limits.agent_url_ttl
        return build_assign(task, version, inputs, signed_bundle(version, self.storage, ttl))

    async def _inputs(
        self, pg: DriverConnection, task: Task, version: WorkflowVersion, now: datetime
    ) -> list[AssignedInput]:
        params = file_parameters(version, task)
        if not params:
            return []
        rows = await pg.fetch(_FILES, task.team_id, list(params.values()))
        files = {r["file_key"]: StoredFile(**dict(r)) for r in rows}
        check_unexpired(files, params, now)
        return signed_inputs(files, params, self.storage, self.settings.limits.agent_url_ttl)


def _event(task_id: str, now: datetime) -> str:
    return json.dumps(event_payload(task_id, status_data(TaskStatus.QUEUED), now))
