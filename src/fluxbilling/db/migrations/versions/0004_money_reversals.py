"""money_reversals: refunds and disputes under their gateway ids; payments.alias_id

A payment may be known by a second id (a Stripe Checkout Session's PaymentIntent), which its
refunds and disputes name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fluxbilling.db.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "money_reversals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("gateway_object_id", sa.String(length=255), nullable=False),
        sa.Column("gateway_payment_id", sa.String(length=255), nullable=False),
        sa.Column("invoice_id", _ID, nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("applied", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            fluxbilling.db.schema.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            fluxbilling.db.schema.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_money_reversals_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_reversals")),
        sa.UniqueConstraint(
            "gateway", "kind", "gateway_object_id", name="uq_money_reversals_gateway_object"
        ),
    )
    with op.batch_alter_table("money_reversals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_money_reversals_invoice_id"), ["invoice_id"])
        batch_op.create_index("ix_money_reversals_payment", ["gateway", "gateway_payment_id"])

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alias_id", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_payments_alias", ["gateway", "alias_id"])


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_alias")
        batch_op.drop_column("alias_id")
    op.drop_table("money_reversals")
