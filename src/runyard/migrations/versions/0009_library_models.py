"""the team's model library

Revision ID: 0009_library_models
Revises: 0008_file_sha256
Create Date: 2026-12-07 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0009_library_models"
down_revision: str | None = "0008_file_sha256"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "library_models",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("model_type", sa.String(length=50), nullable=False),
        sa.Column("model_path", sa.String(length=1024), nullable=False),
        sa.Column("file_key", sa.String(length=1024), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("model_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_library_models_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_models")),
        sa.UniqueConstraint(
            "team_id", "model_type", "model_path", name=op.f("uq_library_models_team_id")
        ),
    )
    with op.batch_alter_table("library_models") as batch:
        batch.create_index(batch.f("ix_library_models_team_id"), ["team_id"], unique=False)
        batch.create_index(batch.f("ix_library_models_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("library_models")
