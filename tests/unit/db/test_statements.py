"""Prepared statements: each builder runs once per database and arguments; `param` binds typed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from fluxbilling.db import Database, schema, statements

runs = schema.runs


@dataclass(frozen=True, slots=True)
class _Fence:
    """A builder's statements: the lease fence for one lease length."""

    update: sa.Update


builds: list[tuple[str, float]] = []


def build_fence(db: Database, lease_seconds: float) -> _Fence:
    builds.append((db.dialect, lease_seconds))
    return _Fence(
        runs.update()
        .where(runs.c.id == statements.param("p_run_id", runs.c.id))
        .values(lease_expires_at=db.now(lease_seconds))
    )


@pytest.fixture(autouse=True)
def _no_builds_yet() -> None:
    builds.clear()


def test_a_builder_runs_once_per_database_and_arguments() -> None:
    db = Database("sqlite:///:memory:")
    first = db.prepared(build_fence, 30.0)
    assert db.prepared(build_fence, 30.0) is first
    assert builds == [("sqlite", 30.0)]
    assert len(db.prepared) == 1


def test_other_arguments_build_again() -> None:
    db = Database("sqlite:///:memory:")
    short, long = db.prepared(build_fence, 5.0), db.prepared(build_fence, 60.0)
    assert short is not long
    assert db.prepared(build_fence, 5.0) is short
    assert builds == [("sqlite", 5.0), ("sqlite", 60.0)]


def test_each_database_builds_for_its_own_dialect() -> None:
    lite = Database("sqlite:///:memory:")
    pg = Database("postgresql://u@127.0.0.1:1/none")  # never connected
    on_sqlite, on_pg = lite.prepared(build_fence, 30.0), pg.prepared(build_fence, 30.0)
    assert "strftime" in str(on_sqlite.update.compile(lite.engine))
    assert "clock_timestamp" in str(on_pg.update.compile(pg.engine))
    assert builds == [("sqlite", 30.0), ("postgresql", 30.0)]


def test_a_builder_without_arguments() -> None:
    db = Database("sqlite:///:memory:")

    def build(db: Database) -> sa.Select[tuple[int]]:
        builds.append((db.dialect, 0.0))
        return sa.select(runs.c.id)

    assert db.prepared(build) is db.prepared(build)
    assert builds == [("sqlite", 0.0)]


def test_a_failed_build_is_not_kept() -> None:
    db = Database("sqlite:///:memory:")

    def broken(db: Database, fail: bool) -> str:
        builds.append((db.dialect, float(fail)))
        if fail:
            raise ValueError("cannot build")
        return "built"

    with pytest.raises(ValueError, match="cannot build"):
        db.prepared(broken, True)
    assert len(db.prepared) == 0
    assert db.prepared(broken, False) == "built"


def test_param_is_typed_like_its_column() -> None:
    value = statements.param("p_lease_token", runs.c.lease_token)
    assert value.key == "p_lease_token"
    assert isinstance(value.type, type(runs.c.lease_token.type))
    assert not value.expanding
    assert statements.param("p_ids", runs.c.id, expanding=True).expanding


def test_values_are_bound_per_call() -> None:
    db = Database("sqlite:///:memory:")
    compiled = build_fence(db, 30.0).update.compile(db.engine)
    assert compiled.construct_params({"p_run_id": 7})["p_run_id"] == 7
    assert compiled.construct_params({"p_run_id": 8})["p_run_id"] == 8
