"""An index for the console's service list filtered by state, newest first

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GET /api/v1/services?state=...: the services in one state, newest first.
    op.create_index("ix_services_status_id", "services", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_services_status_id", table_name="services")
