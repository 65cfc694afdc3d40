"""team invitations, and the outbox of stored objects to remove (a deleted team's)

Revision ID: 0007_invitations
Revises: 0006_task_queues
Create Date: 2026-12-07 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0007_invitations"
down_revision: str | None = "0006_task_queues"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_team_invitations_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_invitations_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_team_invitations_token_hash")),
    )
    with op.batch_alter_table("team_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_team_invitations_team_email", ["team_id", "email_address"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_team_invitations_team_id"), ["team_id"], unique=False)

    op.create_table(
        "object_deletions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("upload_id", sa.String(length=1024), nullable=True),
        sa.Column("created_at", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("final_after", runyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_deletions")),
    )
    with op.batch_alter_table("object_deletions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_object_deletions_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("object_deletions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_object_deletions_created_at"))
    op.drop_table("object_deletions")
    with op.batch_alter_table("team_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_invitations_team_id"))
        batch_op.drop_index("ix_team_invitations_team_email")
    op.drop_table("team_invitations")
