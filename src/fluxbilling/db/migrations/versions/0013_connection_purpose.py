"""connections.purpose: whether a connection reaches production or a test panel

The builder's test of a flow runs against a connection; one that reaches production is
refused unless an admin allows it for that test. Existing connections are `production`:
marking one `test` is an admin's explicit, audited decision.

Revision ID: 0013
Revises: 0008 (the lead re-chains it after 0012 when the parts of issue 11 merge)
Create Date: 2026-12-07 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0008"
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
