"""connections.allowed_networks: the upstream address policy's per-connection allowance

Loopback, private and shared (CGNAT) addresses are refused for every connection unless an
admin allows networks for it explicitly; `networks_allowed_at`/`_by` record that decision.
Existing connections get no allowance: a panel on a private network needs it set again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fluxbilling.db.schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_networks", _JSON, server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "networks_allowed_at",
                fluxbilling.db.schema.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("networks_allowed_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("networks_allowed_by")
        batch_op.drop_column("networks_allowed_at")
        batch_op.drop_column("allowed_networks")
