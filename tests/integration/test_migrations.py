"""The migrations produce exactly the schema in `db/schema.py`, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fluxbilling import audit
from fluxbilling.db import Database, schema
from fluxbilling.db.migrate import upgrade
from fluxbilling.engine import activity
from tests.integration.test_engine import seed_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_migrated_database_matches_the_metadata(db: Database) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrade_is_idempotent(db: Database) -> None:
    await upgrade(db)
    await upgrade(db)
    async with db.connect() as conn:
        version = (
            await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
        ).scalar_one()
    assert version == "0016"


async def test_the_activity_log_is_append_only(db: Database) -> None:
    (order_id,) = await seed_order(db)
    async with db.begin() as conn:
        await activity.record(conn, order_id, "note", "original")
    for statement in (
        schema.activity_log.update().values(message="rewritten"),
        schema.activity_log.delete(),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.begin() as conn:
                await conn.execute(statement)
    async with db.connect() as conn:
        messages = (await conn.execute(sa.select(schema.activity_log.c.message))).scalars().all()
    assert list(messages) == ["original"]


async def test_the_audit_log_is_append_only_and_redacted(db: Database) -> None:
    async with db.begin() as conn:
        await audit.record(
            conn,
            actor="ann",
            action="connection.update",
            entity="connection",
            entity_id="acme",
            changes={"base_url": "https://acme.example", "api_token": "t0k3n-value"},
        )
    for statement in (
        schema.audit_log.update().values(actor="mallory"),
        schema.audit_log.delete(),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.begin() as conn:
                await conn.execute(statement)
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(schema.audit_log))).one()
    assert (row.actor, row.action, row.entity, row.entity_id) == (
        "ann",
        "connection.update",
        "connection",
        "acme",
    )
    assert row.changes == {"base_url": "https://acme.example", "api_token": "***"}
