"""A product's firewall policy

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # The product's firewall policy (`network.firewall`); NULL: the defaults.
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("firewall", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("firewall")
