"""Integration fixtures: every test runs on SQLite and on the real local PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests import dbsupport

from fluxbilling.db import Database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dbsupport.create_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_test_url() -> Iterator[str]:
    name = f"fluxbilling_test_{os.getpid()}"
    url = dbsupport.create_pg_database(name)
    yield url
    dbsupport.drop_pg_database(name)


@pytest.fixture(params=dbsupport.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        return dbsupport.copy_sqlite(template, tmp_path / "test.db")
    return str(request.getfixturevalue("pg_test_url"))


@pytest.fixture
async def db(database_url: str, backend: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if backend == "postgresql":
        await dbsupport.truncate_all(database)
    yield database
    await database.dispose()
