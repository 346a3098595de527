"""reveal_links: one-time, expiring links that reveal a service's root password

Only the SHA-256 of a link's token is stored; the token is in the welcome mail alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fluxbilling.db.schema import UtcDateTime

revision = "0009"
# The accounts (0009), catalogue (0010) and ops (0011) migrations land beside this one; the
# chain is 0008 -> 0012 until they are merged, then 0011 -> 0012.
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reveal_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "service_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_reveal_links_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reveal_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reveal_links_token_hash")),
    )
    op.create_index("ix_reveal_links_service_id", "reveal_links", ["service_id"])


def downgrade() -> None:
    op.drop_index("ix_reveal_links_service_id", table_name="reveal_links")
    op.drop_table("reveal_links")
