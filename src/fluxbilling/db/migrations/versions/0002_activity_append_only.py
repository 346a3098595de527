"""activity_log is append-only: UPDATE and DELETE are refused by the database itself

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_MESSAGE = "activity_log is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER activity_log_no_{verb.lower()} BEFORE {verb} ON activity_log "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION activity_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER activity_log_append_only BEFORE UPDATE OR DELETE ON activity_log "
        "FOR EACH ROW EXECUTE FUNCTION activity_log_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER activity_log_no_update")
        op.execute("DROP TRIGGER activity_log_no_delete")
        return
    op.execute("DROP TRIGGER activity_log_append_only ON activity_log")
    op.execute("DROP FUNCTION activity_log_append_only()")
