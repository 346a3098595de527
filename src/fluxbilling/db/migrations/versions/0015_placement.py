"""Placement: host CPU, tags, region, NIC and storage pools; product needs; quarantine

Hosts gain what products may require (region, CPU model and flags, tags, NIC capacity), a
count of provision failures in a row and the reason they were quarantined. Storage pools
are rows of `host_storage_pools`; a host without any keeps placing disks on its own
`disk_gb_*` columns (one implicit pool), so existing hosts need no data migration.
Products gain their placement needs and strategy; services remember the pool their disk
was reserved on (NULL: the host's own columns).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fluxbilling.db.schema import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _empty_list(name: str) -> sa.Column[object]:
    return sa.Column(name, _JSON, nullable=False, server_default=sa.text("'[]'"))


def upgrade() -> None:
    op.create_table(
        "host_storage_pools",
        sa.Column("id", _ID, nullable=False),
        sa.Column("host_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("total_gb", sa.Integer(), nullable=False),
        sa.Column("used_gb", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overcommit_percent", sa.Integer(), server_default="100", nullable=False),
        sa.CheckConstraint(
            "overcommit_percent >= 100",
            name=op.f("ck_host_storage_pools_overcommit_at_least_100"),
        ),
        sa.CheckConstraint("total_gb >= 0", name=op.f("ck_host_storage_pools_total_not_negative")),
        sa.CheckConstraint(
            "used_gb >= 0 AND used_gb * 100 <= total_gb * overcommit_percent",
            name=op.f("ck_host_storage_pools_used_fits"),
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_storage_pools_host_id_hosts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_storage_pools")),
        sa.UniqueConstraint("host_id", "name", name="uq_host_storage_pools_host_id_name"),
    )
    op.create_index(
        op.f("ix_host_storage_pools_host_id"), "host_storage_pools", ["host_id"], unique=False
    )
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("region", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("cpu_model", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(_empty_list("cpu_flags"))
        batch_op.add_column(_empty_list("tags"))
        batch_op.add_column(
            sa.Column("nic_mbps_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("nic_mbps_used", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("quarantine_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("quarantined_at", UtcDateTime(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_hosts_nic_fits"), "nic_mbps_used >= 0 AND nic_mbps_used <= nic_mbps_total"
        )
        batch_op.create_index(
            "ix_hosts_placement", ["location_id", "connection_id", "status"], unique=False
        )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(_empty_list("cpu_flags"))
        batch_op.add_column(sa.Column("cpu_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("storage_type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("region", sa.String(length=64), nullable=True))
        batch_op.add_column(_empty_list("host_tags"))
        batch_op.add_column(sa.Column("nic_mbps", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("max_per_host", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "placement_strategy", sa.String(length=16), server_default="spread", nullable=False
            )
        )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_pool_id", _ID, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_services_storage_pool_id"), ["storage_pool_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_services_storage_pool_id_host_storage_pools"),
            "host_storage_pools",
            ["storage_pool_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_services_storage_pool_id_host_storage_pools"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_services_storage_pool_id"))
        batch_op.drop_column("storage_pool_id")
    with op.batch_alter_table("products", schema=None) as batch_op:
        for column in (
            "placement_strategy",
            "max_per_host",
            "nic_mbps",
            "host_tags",
            "region",
            "storage_type",
            "cpu_model",
            "cpu_flags",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_index("ix_hosts_placement")
        batch_op.drop_constraint(op.f("ck_hosts_nic_fits"), type_="check")
        for column in (
            "quarantined_at",
            "quarantine_reason",
            "consecutive_failures",
            "nic_mbps_used",
            "nic_mbps_total",
            "tags",
            "cpu_flags",
            "cpu_model",
            "region",
        ):
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_host_storage_pools_host_id"), table_name="host_storage_pools")
    op.drop_table("host_storage_pools")
