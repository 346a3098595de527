"""The migrations produce exactly the schema in `db/schema.py`, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fluxbilling.db import Database, schema
from fluxbilling.db.migrate import upgrade

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
    assert version == "0001"
