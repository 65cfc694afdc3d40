"""the team's custom node packages

Revision ID: 0011_node_packages
Revises: 0010_tunnels
Create Date: 2026-12-07 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0011_node_packages"
down_revision: str | None = "0010_tunnels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "node_packages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("file_key", sa.String(length=1024), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("package_status", sa.String(length=16), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=True),
        sa.Column("file_count", sa.BigInteger(), nullable=False),
        sa.Column("unpacked_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_node_packages_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_packages")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_node_packages_team_id")),
    )
    with op.batch_alter_table("node_packages") as batch:
        batch.create_index(batch.f("ix_node_packages_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_table("node_packages")
