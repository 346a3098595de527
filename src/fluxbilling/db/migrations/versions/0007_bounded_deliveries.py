"""webhook_events: bounded storage of deliveries nobody vouched for

A refused or unauthenticated delivery keeps only the first bytes of its body; `body_size`
and `body_sha256` say what it was (NULL: the body is stored as received). The index lets
the storage caps count such deliveries, and those waiting for their gateway, per source
address.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_webhook_events_verification_remote_addr", ["verification", "remote_addr"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_verification_remote_addr")
        batch_op.drop_column("body_sha256")
        batch_op.drop_column("body_size")
