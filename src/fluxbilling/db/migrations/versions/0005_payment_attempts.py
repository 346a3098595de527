"""payment_attempts: every gateway object created for an invoice; webhook_events.attempts

Checkout creates one gateway object per attempt (a Checkout Session, a Mollie payment, a
PayPal order, a CoinGate order) and stores it here before the customer is redirected, so a
payment for any earlier attempt of the same invoice is still recognised. CoinGate's
per-order callback token is kept only as its HMAC. `webhook_events.attempts` counts how
often a delivery was processed (the sweeper re-processes deferred ones).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fluxbilling.db.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("invoice_id", _ID, nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("gateway_ref", sa.String(length=255), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=False),
        sa.Column("callback_token_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            fluxbilling.db.schema.UtcDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("checked_at", fluxbilling.db.schema.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_attempts_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint("gateway", "gateway_ref", name="uq_payment_attempts_gateway_ref"),
    )
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_attempts_invoice_id"), ["invoice_id"])

    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_webhook_events_outcome"), ["outcome"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_outcome"))
        batch_op.drop_column("attempts")
    op.drop_table("payment_attempts")
