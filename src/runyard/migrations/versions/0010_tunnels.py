"""tunnels to agents' local ports

Revision ID: 0010_tunnels
Revises: 0009_library_models
Create Date: 2026-12-07 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0010_tunnels"
down_revision: str | None = "0009_library_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tunnels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("tunnel_status", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.String(length=36), nullable=True),
        sa.Column("entry_token_hash", sa.String(length=64), nullable=True),
        sa.Column("entry_expires_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sessions_total", sa.Integer(), nullable=False),
        sa.Column("closed_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_tunnels_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tunnels")),
    )
    with op.batch_alter_table("tunnels") as batch:
        batch.create_index(batch.f("ix_tunnels_team_id"), ["team_id"], unique=False)
        batch.create_index(
            batch.f("ix_tunnels_entry_token_hash"), ["entry_token_hash"], unique=False
        )
        batch.create_index(
            "ix_tunnels_team_agent_status", ["team_id", "agent_id", "tunnel_status"], unique=False
        )
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("tunnel_ports", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("gateway_url", sa.String(length=500), nullable=True))
        batch.add_column(
            sa.Column("tunnel_exclusive", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("tunnel_exclusive")
        batch.drop_column("gateway_url")
        batch.drop_column("tunnel_ports")
    op.drop_table("tunnels")
