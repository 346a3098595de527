"""service_actions (lifecycle verbs run through the engine); products.image_id optional

Shared hosting and game server products install no OS image, so their image is optional;
plugin_versions.source holds `file:<name>` of long file names too; a host belongs to the panel
(connection) that runs it, so a product is only placed on its own panel's nodes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fluxbilling.db.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "service_actions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("service_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("plugin_slug", sa.String(length=100), nullable=False),
        sa.Column("plugin_version", sa.Integer(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("result", _JSON, nullable=True),
        sa.Column(
            "created_at",
            fluxbilling.db.schema.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_actions_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_service_actions_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_service_actions_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_actions")),
        sa.UniqueConstraint("run_id", name=op.f("uq_service_actions_run_id")),
    )
    with op.batch_alter_table("service_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_actions_service_id"), ["service_id"])
        batch_op.create_index(batch_op.f("ix_service_actions_order_id"), ["order_id"])
        batch_op.create_index(batch_op.f("ix_service_actions_run_id"), ["run_id"])
        batch_op.create_index("ix_service_actions_service", ["service_id", "id"])
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.alter_column("image_id", existing_type=_ID, nullable=True)
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_hosts_connection_id_connections"),
            "connections",
            ["connection_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_hosts_connection_id"), ["connection_id"])
    with op.batch_alter_table("plugin_versions", schema=None) as batch_op:
        batch_op.alter_column(
            "source", existing_type=sa.String(length=32), type_=sa.String(length=300)
        )


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hosts_connection_id"))
        batch_op.drop_constraint(batch_op.f("fk_hosts_connection_id_connections"))
        batch_op.drop_column("connection_id")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.alter_column("image_id", existing_type=_ID, nullable=False)
    op.drop_table("service_actions")
