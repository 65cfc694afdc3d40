"""task priorities and per-requirement queues: priority, tool_type, requirement_key, rank_at on
tasks (and the index the dispatcher claims through), a default priority on workflow versions

Revision ID: 0006_task_queues
Revises: 0005_device_pairings
Create Date: 2026-12-07 05:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0006_task_queues"
down_revision: str | None = "0005_device_pairings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCHEDULABLE = sa.text("task_status IN ('pending', 'waiting')")


def upgrade() -> None:
    with op.batch_alter_table("workflow_versions") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("tool_type", sa.String(length=16), nullable=False, server_default="python")
        )
        batch.add_column(
            sa.Column(
                "requirement_key", sa.String(length=400), nullable=False, server_default="python|"
            )
        )
        batch.add_column(
            sa.Column("rank_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE tasks SET rank_at = created_at"))
    bind.execute(
        sa.text(
            "UPDATE tasks SET tool_type = (SELECT v.tool_type FROM workflow_versions v "
            "WHERE v.workflow_id = tasks.workflow_id AND v.version = tasks.workflow_version) "
            "WHERE EXISTS (SELECT 1 FROM workflow_versions v WHERE v.workflow_id = "
            "tasks.workflow_id AND v.version = tasks.workflow_version)"
        )
    )
    # The queue of every unfinished task (finished ones are never claimed again).
    rows = bind.execute(
        sa.text(
            "SELECT id, tool_type, required_labels FROM tasks "
            "WHERE task_status IN ('pending', 'waiting', 'queued', 'running')"
        )
    ).all()
    for task_id, tool_type, labels in rows:
        if isinstance(labels, str):
            labels = json.loads(labels)
        key = f"{tool_type}|{','.join(sorted(set(labels or [])))}"
        bind.execute(
            sa.text("UPDATE tasks SET requirement_key = :k WHERE id = :i"), {"k": key, "i": task_id}
        )
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column(
            "rank_at", existing_type=runyard.db.base.UTCDateTime(timezone=True), nullable=False
        )
    op.create_index(
        "ix_tasks_schedulable",
        "tasks",
        ["team_id", "requirement_key", "rank_at", "id"],
        postgresql_where=_SCHEDULABLE,
        sqlite_where=_SCHEDULABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_schedulable", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("rank_at")
        batch.drop_column("requirement_key")
        batch.drop_column("tool_type")
        batch.drop_column("priority")
    with op.batch_alter_table("workflow_versions") as batch:
        batch.drop_column("priority")
