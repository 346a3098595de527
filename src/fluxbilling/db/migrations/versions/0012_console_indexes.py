"""Indexes for the operator console: orders by state, runs by kind/state/phase, recent deliveries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The order list filtered by state, newest first; the dashboard's count by state.
    op.create_index("ix_orders_state_id", "orders", ["state", "id"])
    # The dashboard's runs by phase and bucket (runs that have not ended).
    op.create_index("ix_runs_kind_state_phase", "runs", ["kind", "state", "phase"])
    # The dashboard's deferred/rejected/quarantined deliveries of the last day.
    op.create_index(
        "ix_webhook_events_outcome_received_at", "webhook_events", ["outcome", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_outcome_received_at", table_name="webhook_events")
    op.drop_index("ix_runs_kind_state_phase", table_name="runs")
    op.drop_index("ix_orders_state_id", table_name="orders")
