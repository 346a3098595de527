"""Chaos fixtures: a fresh database per backend run (a migrated SQLite file, or a new
database on a private PostgreSQL cluster that the test may restart), and the plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dbsupport
from tests.chaos.pgcluster import PrivateCluster
from tests.chaos.plan import ChaosPlan


@pytest.fixture(params=dbsupport.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def plan() -> ChaosPlan:
    """The CI variant, scaled by `FLUXBILLING_CHAOS_*` (see tests/chaos/plan.py)."""
    return ChaosPlan.from_env()


@pytest.fixture
def pg_cluster(backend: str) -> Iterator[PrivateCluster | None]:
    """A private PostgreSQL server for the PostgreSQL run: never the shared one, which
    other test runs use and which the chaos test must not restart."""
    if backend != "postgresql":
        yield None
        return
    cluster = PrivateCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_url(backend: str, pg_cluster: PrivateCluster | None, tmp_path: Path) -> str:
    """Shared by the test process and every worker process it starts."""
    if pg_cluster is None:
        template = dbsupport.create_sqlite_template(tmp_path / "template")
        return dbsupport.copy_sqlite(template, tmp_path / "chaos.db")
    return dbsupport.create_pg_database("fluxbilling_chaos", pg_cluster.url())
