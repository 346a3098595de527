"""Switch ports: hosts.switch_port and switch_port_jobs (runs of kind switch_port)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fluxbilling.db.schema

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_REFERENCES = (("run", "runs"), ("order", "orders"), ("service", "services"), ("host", "hosts"))
"""switch_port_jobs' foreign keys: `<name>_id` to `<table>.id`, each indexed."""


def upgrade() -> None:
    # Plain nullable columns: no table rebuild, whatever else changes these tables.
    op.add_column("hosts", sa.Column("switch_port", sa.String(length=200), nullable=True))
    # subnets.vlan_id, the VLAN a job moves a port to, came with the pools (0016).
    table = "switch_port_jobs"
    op.create_table(
        table,
        sa.Column("id", _ID, nullable=False),
        *(sa.Column(f"{ref}_id", _ID, nullable=False) for ref, _ in _REFERENCES),
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
        *(
            sa.ForeignKeyConstraint(
                [f"{ref}_id"], [f"{target}.id"], name=op.f(f"fk_{table}_{ref}_id_{target}")
            )
            for ref, target in _REFERENCES
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("run_id", name=op.f(f"uq_{table}_run_id")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        for ref, _ in _REFERENCES:
            batch_op.create_index(batch_op.f(f"ix_{table}_{ref}_id"), [f"{ref}_id"])


def downgrade() -> None:
    op.drop_table("switch_port_jobs")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("switch_port")
