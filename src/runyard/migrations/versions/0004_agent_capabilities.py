"""what agents and tasks carry beyond files: a task's non-file output values

Non-file outputs (a ComfyUI node's text, outputs skipped by validation) are kept with the task
(``tasks.output_values``) and served in ``task_output.values``. Agents' ComfyUI capabilities
(node classes, model files) travel in their ``system_info``, which is already stored.

Revision ID: 0004_agent_capabilities
Revises: 0002_rate_limits
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_agent_capabilities"
down_revision: str | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("output_values", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("output_values")
