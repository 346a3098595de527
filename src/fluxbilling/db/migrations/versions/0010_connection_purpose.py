"""connections.purpose: whether a connection reaches production or a test panel

The builder's test of a flow runs against a connection; one that reaches production is
refused unless an admin allows it for that test. Existing connections are `production`:
marking one `test` is an admin's explicit, audited decision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="production", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("purpose")
