"""Whether an exception is our own database failing for a while, not the statement being wrong.

The one classification of database trouble, used by the API (503 with `Retry-After`) and by the
worker (the attempt is dropped and the run claimed again later):

```
connection refused, reset or timed out; DNS failure   OSError from the driver's connect, unwrapped
pool exhausted past its timeout                       sqlalchemy.exc.TimeoutError
a connection lost mid-statement                       SQLAlchemy InterfaceError, or a DBAPIError
                                                      that invalidated the connection
PostgreSQL SQLSTATE 08 (connection), 40 (deadlock,    wrapped by SQLAlchemy, or raw from
serialization), 57P (shutting down, starting),        asyncpg's connect
55P03 (lock timeout), 53300 (too many connections)
SQLite busy or locked past the busy timeout           sqlite_errorcode 5 or 6
```

Anything else (a constraint, a missing table, a value out of range) is a bug or bad input.
"""

from __future__ import annotations

import errno
import socket

import asyncpg
import sqlalchemy as sa

__all__ = ["MAYBE_OUTAGE", "is_outage"]

MAYBE_OUTAGE: tuple[type[Exception], ...] = (OSError, sa.exc.SQLAlchemyError, asyncpg.PostgresError)
"""The exception classes an outage may arrive as; `is_outage` tells which ones are."""

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_PG_TRANSIENT = ("08", "40", "57P", "55P03", "53300")
_CONNECTION_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
    }
)


def _connection_failed(exc: OSError) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if exc.errno in _CONNECTION_ERRNOS:
        return True
    # asyncio's connect to a name with several addresses folds their errors into one.
    return exc.errno is None and str(exc).startswith("Multiple exceptions")


def _sqlstate(exc: BaseException | None) -> str:
    return str(getattr(exc, "sqlstate", None) or "")


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` is our database failing for a while (see the module's table).

    Example:
        >>> is_outage(ConnectionRefusedError(111, "Connect call failed"))
        True
        >>> is_outage(ValueError("no"))
        False
    """
    if isinstance(exc, OSError):
        return _connection_failed(exc)
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
            return True
        orig = exc.orig
        sqlite_code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(sqlite_code, int):
            return sqlite_code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
        if orig is not None and isinstance(orig.__cause__, OSError):
            return _connection_failed(orig.__cause__)
        return _sqlstate(orig).startswith(_PG_TRANSIENT)
    # asyncpg raises its own errors, unwrapped, from connect (e.g. "the database system is
    # shutting down", "too many clients").
    return isinstance(exc, asyncpg.PostgresError) and _sqlstate(exc).startswith(_PG_TRANSIENT)
