"""Switch ports: hosts.switch_port, subnets.vlan_id and switch_port_jobs (runs of kind switch_port)

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fluxbilling.db.schema

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Plain nullable columns: no table rebuild, whatever else changes these tables.
    op.add_column("hosts", sa.Column("switch_port", sa.String(length=200), nullable=True))
    op.add_column("subnets", sa.Column("vlan_id", sa.Integer(), nullable=True))
    op.create_table(
        "switch_port_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("service_id", _ID, nullable=False),
        sa.Column("host_id", _ID, nullable=False),
        sa.Column("port", sa.String(length=200), nullable=False),
        sa.Column("vlan", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("result", _JSON, nullable=True),
        sa.Column(
            "created_at",
            fluxbilling.db.schema.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_switch_port_jobs_run_id_runs")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_switch_port_jobs_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_switch_port_jobs_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_switch_port_jobs_host_id_hosts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_switch_port_jobs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_switch_port_jobs_run_id")),
    )
    with op.batch_alter_table("switch_port_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_switch_port_jobs_run_id"), ["run_id"])
        batch_op.create_index(batch_op.f("ix_switch_port_jobs_order_id"), ["order_id"])
        batch_op.create_index(batch_op.f("ix_switch_port_jobs_service_id"), ["service_id"])
        batch_op.create_index(batch_op.f("ix_switch_port_jobs_host_id"), ["host_id"])


def downgrade() -> None:
    op.drop_table("switch_port_jobs")
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_column("vlan_id")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("switch_port")
