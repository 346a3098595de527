"""DCIM: racks, ports, cables, hosts in racks, service interfaces, NetBox sync state and drift

A location is a site. Racks, ports and cables have natural keys like every catalogue entry:
a rack's `name` (`ams1-r01`), a port's `port` (`<host or device>/<name>`), a cable's `label`.
`hosts.rack_id`/`rack_position` place a host (both NULL: unknown).
`ports` belong to a host or to a device we only name (a switch); `cables` join two ports,
each port in at most one cable. `dcim_assignments` is each service's interface and address
(written by the network phase); `dcim_pushed` what the sync last wrote to NetBox per object;
`dcim_drift` the fields edited in NetBox since, which the sync reports and leaves alone.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fluxbilling.db.schema import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "racks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("location_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.CheckConstraint("units >= 1 AND units <= 100", name=op.f("ck_racks_units_range")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_racks_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_racks")),
        sa.UniqueConstraint("name", name=op.f("uq_racks_name")),
    )
    op.create_index(op.f("ix_racks_location_id"), "racks", ["location_id"])
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rack_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("rack_position", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_hosts_rack_id"), ["rack_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_hosts_rack_id_racks"), "racks", ["rack_id"], ["id"]
        )
    op.create_table(
        "ports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("port", sa.String(length=200), nullable=False),
        sa.Column("host_id", _ID, nullable=True),
        sa.Column("device", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("speed_mbps", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "(host_id IS NULL) <> (device IS NULL)", name=op.f("ck_ports_one_owner")
        ),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_ports_host_id_hosts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint("device", "name", name="uq_ports_device_name"),
        sa.UniqueConstraint("host_id", "name", name="uq_ports_host_name"),
        sa.UniqueConstraint("port", name=op.f("uq_ports_port")),
    )
    op.create_index(op.f("ix_ports_host_id"), "ports", ["host_id"])
    op.create_table(
        "cables",
        sa.Column("id", _ID, nullable=False),
        sa.Column("port_a_id", _ID, nullable=False),
        sa.Column("port_b_id", _ID, nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.CheckConstraint("port_a_id <> port_b_id", name=op.f("ck_cables_two_ports")),
        sa.ForeignKeyConstraint(
            ["port_a_id"], ["ports.id"], name=op.f("fk_cables_port_a_id_ports")
        ),
        sa.ForeignKeyConstraint(
            ["port_b_id"], ["ports.id"], name=op.f("fk_cables_port_b_id_ports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cables")),
        sa.UniqueConstraint("label", name=op.f("uq_cables_label")),
        sa.UniqueConstraint("port_a_id", name=op.f("uq_cables_port_a_id")),
        sa.UniqueConstraint("port_b_id", name=op.f("uq_cables_port_b_id")),
    )
    op.create_table(
        "dcim_assignments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("service_id", _ID, nullable=False),
        sa.Column("host_id", _ID, nullable=True),
        sa.Column("interface", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("dns_name", sa.String(length=255), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_dcim_assignments_host_id_hosts")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_dcim_assignments_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dcim_assignments")),
        sa.UniqueConstraint("service_id", name=op.f("uq_dcim_assignments_service_id")),
    )
    op.create_index(op.f("ix_dcim_assignments_host_id"), "dcim_assignments", ["host_id"])
    op.create_table(
        "dcim_pushed",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("remote_id", sa.BigInteger(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("pushed_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dcim_pushed")),
        sa.UniqueConstraint("kind", "key", name="uq_dcim_pushed_kind_key"),
    )
    op.create_table(
        "dcim_drift",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("remote_id", sa.BigInteger(), nullable=True),
        sa.Column("ours", JSON, nullable=True),
        sa.Column("theirs", JSON, nullable=True),
        sa.Column("pushed", JSON, nullable=True),
        sa.Column("service_id", _ID, nullable=True),
        sa.Column("detected_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_dcim_drift_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dcim_drift")),
    )
    op.create_index("ix_dcim_drift_open", "dcim_drift", ["resolved_at", "id"])
    op.create_index(op.f("ix_dcim_drift_service_id"), "dcim_drift", ["service_id"])


def downgrade() -> None:
    op.drop_table("dcim_drift")
    op.drop_table("dcim_pushed")
    op.drop_table("dcim_assignments")
    op.drop_table("cables")
    op.drop_table("ports")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_hosts_rack_id_racks"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_hosts_rack_id"))
        batch_op.drop_column("rack_position")
        batch_op.drop_column("rack_id")
    op.drop_table("racks")
