"""The PostgreSQL statements of ``PostgresTransitions`` (``pg_transitions.py``): each
transition of the common case as one statement, sent through the driver. A repository: SQL and
the rows it returns, no decisions.

Each is an ``UPDATE … RETURNING`` (or ``INSERT``) fenced by the same conditions the general path
checks (team, agent, attempt, state), feeding the event (and output, and idempotency) rows in
data-modifying CTEs. Status and event names come from ``runyard.states`` and ``TaskEvent`` kinds
defined once; the event payload from ``lifecycle.event_payload``; a new task's column values
from the ``Task`` the caller built, so no default is written twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runyard.db.base import new_id
from runyard.db.driver import DriverConnection
from runyard.models import Task
from runyard.states import ACTIVE, TaskStatus, sql_list
from runyard.tasks.execution import AgentRef, Slot
from runyard.tasks.lifecycle import event_payload

S = TaskStatus

_CREATE = f"""
WITH n AS (
    SELECT CASE WHEN $11::int IS NULL THEN NULL ELSE (
        SELECT count(*) FROM (
            SELECT 1 FROM tasks WHERE team_id = $2
                AND task_status IN ({sql_list(ACTIVE)}) LIMIT $11
        ) AS unfinished
    ) END AS active
), room AS (
    SELECT 1 FROM n WHERE n.active IS NULL OR n.active < $11
), k AS (
    INSERT INTO idempotency_keys (team_id, key, request_hash, task_id, created_at)
    SELECT $2, $22::text, $23::text, $1, $10 FROM room WHERE $22::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING task_id
), t AS (
    INSERT INTO tasks (id, team_id, workflow_id, workflow_slug, workflow_version, task_status,
        progress, parameters, required_labels, task_timeout, max_retries, task_error,
        retry_count, attempt, created_at, event_seq, priority, tool_type, requirement_key,
        rank_at)
    SELECT $1, $2, $3, $4, $5, $13, $14, $6::json, $7::json, $8, $9, $15, $16, $17, $10, 1,
        $18, $19, $20, $21
    FROM room WHERE $22::text IS NULL OR EXISTS (SELECT 1 FROM k)
    RETURNING id
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, 1, 'status', $12::json, $10 FROM t
)
SELECT (SELECT count(*) FROM t) AS created, (SELECT n.active FROM n) AS active
"""

_ACK = f"""
WITH t AS (
    UPDATE tasks SET task_status = '{S.RUNNING}', started_at = COALESCE(started_at, $5),
        event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4
        AND task_status = '{S.QUEUED}'
    RETURNING id, event_seq, assigned_at
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, 'status', $6::json, $5 FROM t
)
SELECT assigned_at FROM t
"""

_PROGRESS = f"""
WITH t AS (
    UPDATE tasks SET progress = $6, event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4
        AND task_status = '{S.RUNNING}'
    RETURNING id, event_seq
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, 'progress', $7::json, $5 FROM t
)
SELECT event_seq FROM t
"""

_COMPLETE = f"""
WITH t AS (
    UPDATE tasks SET task_status = '{S.COMPLETED}', progress = 1.0, completed_at = $5,
        outputs_expire_at = $6, output_values = $7::json, event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4
        AND task_status = '{S.RUNNING}'
        AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.team_id = $2 AND w.is_enabled)
    RETURNING id, event_seq
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, '{S.COMPLETED}', $8::json, $5 FROM t
), sent AS (
    INSERT INTO task_outputs (id, task_id, attempt, position, output_id, file_name,
        content_type, file_size, object_key, output_status, created_at, expires_at, sha256)
    SELECT u.row_id, t.id, $4, u.pos, u.output_id, u.file_name, u.content_type, u.file_size,
        u.object_key, 'final', $5, $6, u.sha256
    FROM t, unnest($9::text[], $10::int[], $11::text[], $12::text[], $13::text[],
        $14::bigint[], $15::text[], $18::text[])
        AS u(row_id, pos, output_id, file_name, content_type, file_size, object_key, sha256)
), uploaded AS (
    UPDATE task_outputs o SET output_status = 'final', position = u.pos, expires_at = $6,
        sha256 = u.sha256
    FROM t, unnest($16::text[], $17::int[], $19::text[]) AS u(output_id, pos, sha256)
    WHERE o.task_id = t.id AND o.attempt = $4 AND o.output_id = u.output_id
)
SELECT event_seq FROM t
"""


def payload(task_id: str, data: dict[str, Any], now: datetime) -> str:
    return json.dumps(event_payload(task_id, data, now))


async def create(
    pg: DriverConnection, task: Task, cap: int | None, key: str | None, digest: str | None
) -> tuple[bool, int | None]:
    """Insert a new ``task``, its first event and (with ``key``) its idempotency row in the
    caller's transaction, unless the team has ``cap`` unfinished tasks already (counted only
    when a cap is given) or ``key`` is taken. (created, the count, up to ``cap``)."""
    row = await pg.fetchrow(
        _CREATE,
        task.id,
        task.team_id,
        task.workflow_id,
        task.workflow_slug,
        task.workflow_version,
        json.dumps(task.parameters),
        json.dumps(task.required_labels),
        task.task_timeout,
        task.max_retries,
        task.created_at,
        cap,
        payload(task.id, {"task_status": task.task_status.value}, task.created_at),
        task.task_status.value,
        task.progress,
        task.task_error,
        task.retry_count,
        task.attempt,
        task.priority,
        task.tool_type,
        task.requirement_key,
        task.rank_at,
        key,
        digest,
    )
    assert row is not None
    active = row["active"]
    return bool(row["created"]), None if active is None else int(active)


async def ack(
    pg: DriverConnection, agent: AgentRef, task_id: str, attempt: int, now: datetime
) -> tuple[bool, datetime | None]:
    """queued → running; (applied, when the attempt was assigned)."""
    row = await pg.fetchrow(
        _ACK,
        task_id,
        agent.team_id,
        agent.agent_id,
        attempt,
        now,
        payload(task_id, {"task_status": S.RUNNING.value}, now),
    )
    return (False, None) if row is None else (True, row["assigned_at"])


async def progress(
    pg: DriverConnection,
    agent: AgentRef,
    task_id: str,
    attempt: int,
    now: datetime,
    value: float,
    data: dict[str, Any],
) -> bool:
    row = await pg.fetchrow(
        _PROGRESS,
        task_id,
        agent.team_id,
        agent.agent_id,
        attempt,
        now,
        value,
        payload(task_id, data, now),
    )
    return row is not None


async def complete(
    pg: DriverConnection,
    agent: AgentRef,
    task_id: str,
    attempt: int,
    now: datetime,
    expires: datetime,
    *,
    body: dict[str, Any],
    values: dict[str, Any] | None,
    added: Sequence[tuple[int, Slot]],
    kept: Sequence[tuple[int, Slot]],
) -> bool:
    """running → completed with ``body``: ``added`` outputs get new rows, ``kept`` (granted
    slots) become final, each at its position."""
    data = {"task_status": S.COMPLETED.value, "task_output": body}
    row = await pg.fetchrow(
        _COMPLETE,
        task_id,
        agent.team_id,
        agent.agent_id,
        attempt,
        now,
        expires,
        json.dumps(values) if values else None,
        payload(task_id, data, now),
        [new_id() for _ in added],
        [i for i, _ in added],
        [s.output_id for _, s in added],
        [s.file_name for _, s in added],
        [s.content_type for _, s in added],
        [s.file_size for _, s in added],
        [s.object_key for _, s in added],
        [s.output_id for _, s in kept],
        [i for i, _ in kept],
        [s.sha256 for _, s in added],  # $18, $19: the outputs' sha256 (issue 27)
        [s.sha256 for _, s in kept],
    )
    return row is not None
