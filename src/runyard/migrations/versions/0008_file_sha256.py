"""sha256 of input files, multipart uploads and task outputs

Revision ID: 0008_file_sha256
Revises: 0007_invitations
Create Date: 2026-12-07 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_file_sha256"
down_revision: str | None = "0007_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch.create_index("ix_files_team_sha256", ["team_id", "sha256"])
    with op.batch_alter_table("multipart_uploads") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("task_outputs") as batch:
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_outputs") as batch:
        batch.drop_column("sha256")
    with op.batch_alter_table("multipart_uploads") as batch:
        batch.drop_column("sha256")
    with op.batch_alter_table("files") as batch:
        batch.drop_index("ix_files_team_sha256")
        batch.drop_column("sha256")
