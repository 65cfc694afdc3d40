"""device pairings (RFC 8628-like) and the companion link of paired agent keys

Revision ID: 0005_device_pairings
Revises: 0002_rate_limits
Create Date: 2026-12-02 05:28:41
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0005_device_pairings"
down_revision: str | None = "0004_agent_capabilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_pairings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_hash", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("with_agent_key", sa.Boolean(), nullable=False),
        sa.Column("pairing_status", sa.String(length=16), nullable=False),
        sa.Column("poll_interval", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("device_key_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_key_id"],
            ["api_keys.id"],
            name=op.f("fk_device_pairings_device_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_device_pairings_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_pairings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_pairings")),
        sa.UniqueConstraint("device_code_hash", name=op.f("uq_device_pairings_device_code_hash")),
    )
    with op.batch_alter_table("device_pairings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_pairings_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_pairings_user_code_hash"), ["user_code_hash"], unique=False
        )

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("companion_of", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_api_keys_companion_of"), ["companion_of"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_companion_of_api_keys"),
            "api_keys",
            ["companion_of"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_companion_of_api_keys"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_api_keys_companion_of"))
        batch_op.drop_column("companion_of")

    with op.batch_alter_table("device_pairings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_pairings_user_code_hash"))
        batch_op.drop_index(batch_op.f("ix_device_pairings_expires_at"))

    op.drop_table("device_pairings")
