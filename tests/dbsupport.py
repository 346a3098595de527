"""Test databases: a migrated SQLite template file and a migrated PostgreSQL database.

PostgreSQL comes from `FLUXBILLING_TEST_PG_URL` (default: the local server, trust auth);
each test session gets its own database named after its process id, dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg

from fluxbilling.db import Database, schema
from fluxbilling.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "FLUXBILLING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def pg_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """The URL of database `name` on the test server (or the server of `admin_url`)."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def _admin(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Create (or re-create) and migrate database `name`; returns its async URL.

    Args:
        name: the database.
        admin_url: a database URL on the server to create it on (default: the test server).
    """
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', admin_url))
    url = pg_url(name, admin_url)
    asyncio.run(_migrate(url))
    return url


def drop_pg_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    """Drop database `name` (on the server of `admin_url`)."""
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url))


def create_sqlite_template(directory: Path) -> Path:
    """A migrated SQLite file to copy for each test."""
    path = directory / "template.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


def copy_sqlite(template: Path, target: Path) -> str:
    """Copy the template to `target`; returns its URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def truncate_all(db: Database) -> None:
    """Empty every table of a PostgreSQL test database."""
    names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
    async with db.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
