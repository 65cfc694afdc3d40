"""The transitions every task makes, each in one statement on PostgreSQL: its creation (with
the team's queue cap checked in the same statement), its agent's acknowledgement (queued →
running), its stored progress reports, and its completion (running → completed, with its
outputs).

The general path (``TaskExecution`` in a unit of work: begin, lock and load the row, change it,
append the event, write the outbox, commit) takes five to seven round trips through the ORM, and
the ORM's CPU was most of the server's per task. Here the common case is one atomic statement: an
``UPDATE … RETURNING`` fenced by the same conditions (team, agent, attempt, state) feeding the
event (and output) ``INSERT``s in data-modifying CTEs, sent through the driver as its own
transaction. Exactly what the general path would write, the same event log and the same
wake-ups after it.

When the statement changes nothing (another attempt or agent, another state, a completion
implying its ack, a team with webhooks, whose outbox rows the general path writes), the caller
takes the general path, which decides and answers exactly as before: the fast path only ever
applies what the general one would have applied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from runyard.clock import iso_z
from runyard.db.base import new_id
from runyard.db.engine import Database
from runyard.metrics.registry import observe_start
from runyard.models import Task
from runyard.tasks.execution import AgentRef, Slot
from runyard.tasks.lifecycle import Report
from runyard.tasks.states import ACTIVE, sql_list

_CREATE = f"""
WITH n AS (
    SELECT count(*) AS active FROM (
        SELECT 1 FROM tasks WHERE team_id = $2
            AND task_status IN ({sql_list(ACTIVE)}) LIMIT $11
    ) AS unfinished
), t AS (
    INSERT INTO tasks (id, team_id, workflow_id, workflow_slug, workflow_version, task_status,
        progress, parameters, required_labels, task_timeout, max_retries, task_error,
        retry_count, attempt, created_at, event_seq)
    SELECT $1, $2, $3, $4, $5, 'pending', 0.0, $6::json, $7::json, $8, $9, '', 0, 0, $10, 1
    FROM n WHERE n.active < $11
    RETURNING id
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, 1, 'status', $12::json, $10 FROM t
)
SELECT count(*) AS created FROM t
"""

_ACK = """
WITH t AS (
    UPDATE tasks SET task_status = 'running', started_at = COALESCE(started_at, $5),
        event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4 AND task_status = 'queued'
    RETURNING id, event_seq, assigned_at
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, 'status', $6::json, $5 FROM t
)
SELECT assigned_at FROM t
"""

_PROGRESS = """
WITH t AS (
    UPDATE tasks SET progress = $6, event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4 AND task_status = 'running'
    RETURNING id, event_seq
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, 'progress', $7::json, $5 FROM t
)
SELECT event_seq FROM t
"""

_COMPLETE = """
WITH t AS (
    UPDATE tasks SET task_status = 'completed', progress = 1.0, completed_at = $5,
        outputs_expire_at = $6, output_values = $7::json, event_seq = event_seq + 1
    WHERE id = $1 AND team_id = $2 AND agent_id = $3 AND attempt = $4
        AND task_status = 'running'
        AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.team_id = $2 AND w.is_enabled)
    RETURNING id, event_seq
), e AS (
    INSERT INTO task_events (task_id, seq, event, data, created_at)
    SELECT id, event_seq, 'completed', $8::json, $5 FROM t
), sent AS (
    INSERT INTO task_outputs (id, task_id, attempt, position, output_id, file_name,
        content_type, file_size, object_key, output_status, created_at, expires_at)
    SELECT u.row_id, t.id, $4, u.pos, u.output_id, u.file_name, u.content_type, u.file_size,
        u.object_key, 'final', $5, $6
    FROM t, unnest($9::text[], $10::int[], $11::text[], $12::text[], $13::text[],
        $14::bigint[], $15::text[])
        AS u(row_id, pos, output_id, file_name, content_type, file_size, object_key)
), uploaded AS (
    UPDATE task_outputs o SET output_status = 'final', position = u.pos, expires_at = $6
    FROM t, unnest($16::text[], $17::int[]) AS u(output_id, pos)
    WHERE o.task_id = t.id AND o.attempt = $4 AND o.output_id = u.output_id
)
SELECT event_seq FROM t
"""


def _payload(task_id: str, data: dict[str, Any], now: datetime) -> str:
    """The event's data as ``lifecycle.append_event`` writes it."""
    return json.dumps({"task_id": task_id, **data, "timestamp": iso_z(now)})


async def create(pg: Any, task: Task, cap: int) -> bool:
    """Insert a new pending ``task`` and its first event in the caller's transaction (``pg``,
    its driver connection), unless the team has ``cap`` unfinished tasks already: False."""
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
        _payload(task.id, {"task_status": "pending"}, task.created_at),
    )
    return bool(row["created"])


class DirectTransitions:
    """One-statement transitions for PostgreSQL (``Database.is_postgres``)."""

    def __init__(self, db: Database, output_retention: int) -> None:
        self.db = db
        self.output_retention = output_retention

    async def ack(self, agent: AgentRef, task_id: str, attempt: int, now: datetime) -> bool:
        """queued → running for the agent's current attempt; False when nothing changed."""
        payload = _payload(task_id, {"task_status": "running"}, now)
        async with self.db.driver() as pg:
            row = await pg.fetchrow(
                _ACK, task_id, agent.team_id, agent.agent_id, attempt, now, payload
            )
        if row is None:
            return False
        observe_start(self.db, row["assigned_at"], now)
        self.db.wakeups.tasks_changed({task_id}, False)
        return True

    async def progress(
        self, agent: AgentRef, task_id: str, attempt: int, now: datetime, report: Report
    ) -> bool:
        """A stored progress report of a running attempt; False when nothing changed."""
        async with self.db.driver() as pg:
            row = await pg.fetchrow(
                _PROGRESS,
                task_id,
                agent.team_id,
                agent.agent_id,
                attempt,
                now,
                report.clamped,
                _payload(task_id, report.event_data(), now),
            )
        if row is None:
            return False
        self.db.wakeups.tasks_changed({task_id}, False)
        return True

    async def complete(
        self,
        agent: AgentRef,
        task_id: str,
        attempt: int,
        now: datetime,
        *,
        body: dict[str, Any],
        values: dict[str, Any] | None,
        positions: Sequence[tuple[int, Slot]],
        inline: Sequence[Slot],
    ) -> bool:
        """running → completed with ``body`` (the contract's ``task_output``): ``positions``
        are the reported outputs in order, of which ``inline`` get new rows and the others
        (granted slots) become final. False when nothing changed."""
        expires = now + timedelta(seconds=self.output_retention)
        event = _payload(task_id, {"task_status": "completed", "task_output": body}, now)
        new = {slot.output_id for slot in inline}
        added = [(i, s) for i, s in positions if s.output_id in new]
        kept = [(i, s) for i, s in positions if s.output_id not in new]
        async with self.db.driver() as pg:
            row = await pg.fetchrow(
                _COMPLETE,
                task_id,
                agent.team_id,
                agent.agent_id,
                attempt,
                now,
                expires,
                json.dumps(values) if values else None,
                event,
                [new_id() for _ in added],
                [i for i, _ in added],
                [s.output_id for _, s in added],
                [s.file_name for _, s in added],
                [s.content_type for _, s in added],
                [s.file_size for _, s in added],
                [s.object_key for _, s in added],
                [s.output_id for _, s in kept],
                [i for i, _ in kept],
            )
        if row is None:
            return False
        self.db.wakeups.tasks_changed({task_id}, True)
        return True
