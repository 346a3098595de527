"""Telling a database outage from a bug (`is_transient`)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from fluxbilling.db import is_transient


class _PgError(Exception):
    """Stands in for asyncpg's error as SQLAlchemy wraps it (it carries `sqlstate`)."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def pg(sqlstate: str) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("SELECT 1", {}, _PgError(sqlstate))


def sqlite(code: int) -> sa.exc.DBAPIError:
    orig = sqlite3.OperationalError("database is locked")
    orig.sqlite_errorcode = code
    return sa.exc.OperationalError("BEGIN IMMEDIATE", {}, orig)


@pytest.mark.parametrize(
    "sqlstate",
    [
        "08001",  # no connection could be made (a refused socket, mapped by Database)
        "08006",  # the connection broke
        "40P01",  # deadlock
        "40001",  # serialization failure
        "53300",  # too many connections
        "57P01",  # admin shutdown (pg_ctl stop -m fast)
        "57P03",  # the database system is starting up
        "55P03",  # lock_timeout
    ],
)
def test_outages_of_postgresql_are_transient(sqlstate: str) -> None:
    assert is_transient(pg(sqlstate))


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", "42601", "22P02", "55000"])
def test_errors_of_the_statement_are_not(sqlstate: str) -> None:
    assert not is_transient(pg(sqlstate))


def test_sqlite_busy_and_locked_are_transient_other_errors_are_not() -> None:
    assert is_transient(sqlite(5))
    assert is_transient(sqlite(6 | 0x100))  # an extended code of SQLITE_LOCKED
    assert not is_transient(sqlite(19))  # SQLITE_CONSTRAINT


def test_a_dropped_connection_is_transient_and_other_exceptions_are_not() -> None:
    dropped = sa.exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert is_transient(dropped)
    assert not is_transient(ConnectionRefusedError(111, "refused"))
    assert not is_transient(ValueError("no database involved"))
