"""the tunnels' audit trail: who closed a tunnel, when it was last used, the bytes relayed

Revision ID: 0012_tunnel_audit
Revises: 0011_node_packages
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import runyard.db.base

revision: str = "0012_tunnel_audit"
down_revision: str | None = "0011_node_packages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tunnels") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column("last_used_at", runyard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("bytes_to_agent", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("bytes_from_agent", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("tunnels") as batch:
        batch.drop_column("bytes_from_agent")
        batch.drop_column("bytes_to_agent")
        batch.drop_column("last_used_at")
        batch.drop_column("closed_by")
