"""holds: capacity and an address reserved at checkout for a TTL (reserve-then-charge)

One row per order: the host, amounts and address the checkout reserved, its state (held,
consumed, released, expired) and a deadline from the database clock.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fluxbilling.db.schema import UtcDateTime

revision = "0020"
# Lands beside the other issue-12 migrations (0015-0019); the lead chains them at merge.
down_revision = "0019"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("host_id", _ID, nullable=False),
        sa.Column("subnet_id", _ID, nullable=True),
        sa.Column("storage_pool_id", _ID, nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("ram_mb", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("disk_gb", sa.Integer(), nullable=False),
        sa.Column("nic_mbps", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_holds_order_id_orders")),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_holds_host_id_hosts")),
        sa.ForeignKeyConstraint(
            ["storage_pool_id"],
            ["host_storage_pools.id"],
            name=op.f("fk_holds_storage_pool_id_host_storage_pools"),
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"], ["subnets.id"], name=op.f("fk_holds_subnet_id_subnets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint("order_id", name="uq_holds_order_id"),
    )
    op.create_index("ix_holds_order_id", "holds", ["order_id"])
    op.create_index("ix_holds_host_id", "holds", ["host_id"])
    op.create_index("ix_holds_subnet_id", "holds", ["subnet_id"])
    op.create_index("ix_holds_storage_pool_id", "holds", ["storage_pool_id"])
    op.create_index("ix_holds_state_expires_at", "holds", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_holds_state_expires_at", table_name="holds")
    op.drop_index("ix_holds_storage_pool_id", table_name="holds")
    op.drop_index("ix_holds_subnet_id", table_name="holds")
    op.drop_index("ix_holds_host_id", table_name="holds")
    op.drop_index("ix_holds_order_id", table_name="holds")
    op.drop_table("holds")
