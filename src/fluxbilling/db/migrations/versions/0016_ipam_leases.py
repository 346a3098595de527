"""IPAM: subnets become pools (family, kind, scope, reserved ranges, cooldown), addresses leases

A pool leases one address per service (`addresses`) or a routed prefix (`routed`, a /64
out of a /48). A lease has an `ordinal` (its offset in the pool, unique per pool), so the
next free one is a gap query; released leases cool down before reuse. Products say what
they get: an IPv4 address, an IPv6 address, a routed IPv6 prefix. Existing addresses
become `leased` with their ordinal computed from the address.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fluxbilling.db.schema import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = UtcDateTime()


def upgrade() -> None:
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("family", sa.Integer(), nullable=False, server_default="4"))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="addresses")
        )
        batch_op.add_column(sa.Column("lease_prefix_len", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("vlan_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "reserved",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch_op.add_column(
            sa.Column("cooldown_seconds", sa.Integer(), nullable=False, server_default="3600")
        )
        batch_op.add_column(
            sa.Column("next_ordinal", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ipv4_address", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("ipv6_address", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("ipv6_routed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("ip_addresses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ordinal", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("family", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("prefix_len", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_order_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("leased_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("released_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("cooldown_until", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("ptr_zone", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("ptr_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("ptr_content", sa.String(length=1000), nullable=True))
    _backfill()
    with op.batch_alter_table("ip_addresses", schema=None) as batch_op:
        batch_op.alter_column("ordinal", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("family", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("kind", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_constraint("uq_ip_addresses_order_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_ip_addresses_subnet_ordinal", ["subnet_id", "ordinal"]
        )
        batch_op.create_unique_constraint(
            "uq_ip_addresses_order_family_kind", ["order_id", "family", "kind"]
        )
        batch_op.create_foreign_key(
            op.f("fk_ip_addresses_last_order_id_orders"), "orders", ["last_order_id"], ["id"]
        )
        batch_op.create_index(
            op.f("ix_ip_addresses_last_order_id"), ["last_order_id"], unique=False
        )
        batch_op.create_index(
            "ix_ip_addresses_subnet_state_cooldown", ["subnet_id", "state", "cooldown_until"]
        )


def _backfill() -> None:
    """Pool families from their prefixes; each address's ordinal, family and lease state."""
    bind = op.get_bind()
    for pool_id, cidr in bind.execute(sa.text("SELECT id, cidr FROM subnets")).all():
        network = ipaddress.ip_network(cidr)
        bind.execute(
            sa.text("UPDATE subnets SET family = :family WHERE id = :id"),
            {"family": network.version, "id": pool_id},
        )
        rows = bind.execute(
            sa.text("SELECT id, address, assigned_at FROM ip_addresses WHERE subnet_id = :id"),
            {"id": pool_id},
        ).all()
        for row_id, address, assigned_at in rows:
            ordinal = int(ipaddress.ip_address(address)) - int(network.network_address)
            bind.execute(
                sa.text(
                    "UPDATE ip_addresses SET ordinal = :ordinal, family = :family, "
                    "kind = 'addresses', state = 'leased', leased_at = :leased "
                    "WHERE id = :id"
                ),
                {
                    "ordinal": ordinal,
                    "family": network.version,
                    "leased": assigned_at,
                    "id": row_id,
                },
            )


def downgrade() -> None:
    # Leases of a second family or kind per order cannot fit the old one-per-order rule.
    op.execute("DELETE FROM ip_addresses WHERE kind <> 'addresses' OR family <> 4")
    op.execute("DELETE FROM ip_addresses WHERE order_id IS NULL")
    with op.batch_alter_table("ip_addresses", schema=None) as batch_op:
        batch_op.drop_index("ix_ip_addresses_subnet_state_cooldown")
        batch_op.drop_index(op.f("ix_ip_addresses_last_order_id"))
        batch_op.drop_constraint(op.f("fk_ip_addresses_last_order_id_orders"), type_="foreignkey")
        batch_op.drop_constraint("uq_ip_addresses_order_family_kind", type_="unique")
        batch_op.drop_constraint("uq_ip_addresses_subnet_ordinal", type_="unique")
        batch_op.create_unique_constraint("uq_ip_addresses_order_id", ["order_id"])
        for column in (
            "ptr_content",
            "ptr_name",
            "ptr_zone",
            "cooldown_until",
            "released_at",
            "leased_at",
            "last_order_id",
            "prefix_len",
            "kind",
            "family",
            "ordinal",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("products", schema=None) as batch_op:
        for column in ("ipv6_routed", "ipv6_address", "ipv4_address"):
            batch_op.drop_column(column)
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        for column in (
            "next_ordinal",
            "cooldown_seconds",
            "reserved",
            "vlan_id",
            "host_id",
            "lease_prefix_len",
            "kind",
            "family",
        ):
            batch_op.drop_column(column)
