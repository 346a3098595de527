"""Chaos fixtures: a fresh database per backend run (a migrated SQLite file, a new PG database)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dbsupport


@pytest.fixture(params=dbsupport.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """Shared by the test process and every worker process it starts."""
    if backend == "sqlite":
        template = dbsupport.create_sqlite_template(tmp_path / "template")
        yield dbsupport.copy_sqlite(template, tmp_path / "chaos.db")
        return
    name = f"fluxbilling_chaos_{os.getpid()}"
    url = dbsupport.create_pg_database(name)
    try:
        yield url
    finally:
        dbsupport.drop_pg_database(name)
