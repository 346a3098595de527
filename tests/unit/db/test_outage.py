"""One classification of our database failing for a while, for the API and the worker."""

from __future__ import annotations

import errno
import socket
import sqlite3

import asyncpg
import pytest
import sqlalchemy as sa

from fluxbilling.db import outage


class _DriverError(Exception):
    """Stands in for a driver error as SQLAlchemy wraps it (it carries `sqlstate`)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _sqlite(code: int) -> sa.exc.DBAPIError:
    orig = sqlite3.OperationalError("database is locked")
    orig.sqlite_errorcode = code
    return sa.exc.OperationalError("BEGIN IMMEDIATE", {}, orig)


def _pg(sqlstate: str) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("SELECT 1", {}, _DriverError("boom", sqlstate))


def _reset_under_driver() -> sa.exc.DBAPIError:
    orig = _DriverError("connection lost")
    orig.__cause__ = ConnectionResetError(errno.ECONNRESET, "reset by peer")
    return sa.exc.DBAPIError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        TimeoutError("connect timed out"),
        socket.gaierror(-2, "Name or service not known"),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] ..."),
        sa.exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"),
        sa.exc.InterfaceError("SELECT 1", {}, _DriverError("connection is closed")),
        sa.exc.DBAPIError("SELECT 1", {}, _DriverError("gone"), connection_invalidated=True),
        _pg("08006"),  # connection failure
        _pg("40P01"),  # deadlock
        _pg("57P01"),  # admin shutdown
        _pg("55P03"),  # lock timeout
        _pg("53300"),  # too many connections
        _reset_under_driver(),
        _sqlite(5),  # busy
        _sqlite(6 | 256),  # locked (extended code)
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    ],
    ids=repr,
)
def test_outages(exc: BaseException) -> None:
    assert outage.is_outage(exc)
    assert isinstance(exc, outage.MAYBE_OUTAGE)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(errno.ENOENT, "no such file"),
        PermissionError(errno.EACCES, "denied"),
        ValueError("no"),
        sa.exc.IntegrityError("INSERT", {}, _DriverError("duplicate key", "23505")),
        _pg("22003"),  # numeric value out of range
        _pg("42P01"),  # undefined table
        _sqlite(19),  # constraint
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        sa.exc.ArgumentError("bad statement"),
    ],
    ids=repr,
)
def test_bugs_and_bad_input_are_no_outage(exc: BaseException) -> None:
    assert not outage.is_outage(exc)
