"""The database handle: one async engine, dialect quirks and the database clock.

SQLite runs in WAL mode with a busy timeout and every write transaction (`begin()`) starts
with `BEGIN IMMEDIATE`, so a writer takes the lock up front instead of failing on upgrade;
reads (`connect()`) use a deferred `BEGIN` and never touch the write lock. PostgreSQL uses
row locks (`FOR UPDATE SKIP LOCKED`) and LISTEN/NOTIFY.

Outages are told apart from bugs here, once: `is_transient(exc)` says whether an error is
the database being busy, away or restarting (retry later) rather than a statement being
wrong. asyncpg lets socket errors of a *new* connection through untranslated (a refused or
reset connection while PostgreSQL restarts); the engine maps them to SQLAlchemy's
`OperationalError` with SQLSTATE 08001, so every caller sees one kind of error for "the
server cannot be reached". How long to wait for it is the engine's (`engine.outage`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from fluxbilling.db.statements import Prepared

__all__ = ["Database", "is_transient", "normalise_url"]

log = logging.getLogger(__name__)

_SQLITE_LOCK_WAIT = 30.0  # seconds, as SQLite's own busy timeout
_READ_ONLY = "fluxbilling_read_only"  # execution option: SQLite reads use a deferred BEGIN
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# PostgreSQL SQLSTATE classes that say nothing about the statement: connection exception (08),
# transaction rollback: deadlock, serialization failure (40), insufficient resources: too many
# connections, out of memory or disk (53), operator intervention: shutting down, starting up,
# crash recovery (57P), lock_timeout (55P03).
_PG_TRANSIENT = ("08", "40", "53", "57P", "55P03")
_PG_UNREACHABLE = "08001"  # sqlclient_unable_to_establish_sqlconnection


def is_transient(exc: BaseException) -> TypeGuard[sa.exc.DBAPIError]:
    """Whether `exc` is our own database failing transiently, not the statement.

    SQLite busy or locked past its busy timeout; a dropped or refused connection; a
    PostgreSQL server shutting down, restarting, recovering or out of connections; a
    deadlock or serialization failure. Whatever ran can be run again once the database is
    back. Anything else (a constraint, a missing table, a syntax error) is a bug or bad
    data, and retrying will not help.

    Examples:
        >>> is_transient(ValueError("no database involved"))
        False
    """
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return str(getattr(exc.orig, "sqlstate", None) or "").startswith(_PG_TRANSIENT)


def normalise_url(url: str) -> str:
    """Map the URLs operators type to the async drivers we ship.

    Examples:
        >>> normalise_url("postgresql://u@h/db")
        'postgresql+asyncpg://u@h/db'
        >>> normalise_url("sqlite:///x.db")
        'sqlite+aiosqlite:///x.db'
    """
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class Database:
    """An async engine, the few statements that differ per dialect, and the prepared ones."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        lock_timeout: float | None = None,
        idle_in_transaction_timeout: float | None = None,
    ) -> None:
        """Open (lazily) the database at `url`.

        Args:
            url: `sqlite:///…` or `postgresql://…` (async drivers are filled in).
            pool_size: PostgreSQL connections kept open (as many again may overflow).
            lock_timeout: PostgreSQL: give up waiting for a row lock after this many seconds
                (the attempt is abandoned and retried; a stuck peer cannot stall everyone).
            idle_in_transaction_timeout: PostgreSQL: the server ends a session that sits in
                an open transaction this long (a paused or partitioned worker), releasing
                its locks.
        """
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            msg = f"unsupported database {self.dialect!r}: use sqlite or postgresql"
            raise ValueError(msg)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["poolclass"] = NullPool if parsed.database == ":memory:" else None
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = False
            server_settings = {
                name: str(int(seconds * 1000))
                for name, seconds in (
                    ("lock_timeout", lock_timeout),
                    ("idle_in_transaction_session_timeout", idle_in_transaction_timeout),
                )
                if seconds
            }
            if server_settings:
                kwargs["connect_args"] = {"server_settings": server_settings}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self.prepared = Prepared(self)
        """This database's prepared statements (`db.statements`)."""
        self._lock = asyncio.Lock()
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _configure_postgresql(self.engine)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (`BEGIN IMMEDIATE` on SQLite), committed on success.

        On SQLite the writers of one process also queue on an `asyncio.Lock` first: SQLite's
        busy handler polls in growing sleeps (up to 100 ms) and is unfair, so without it a
        webhook could wait behind a busy worker for far longer than the work takes. Other
        processes still meet at SQLite's own lock (WAL, busy timeout).
        """
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        lock = self._writer_lock()
        try:
            async with asyncio.timeout(_SQLITE_LOCK_WAIT):
                await lock.acquire()
        except TimeoutError as exc:
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", None, Exception("database is locked (in-process writer queue)")
            ) from exc
        try:
            async with self.engine.begin() as conn:
                yield conn
        finally:
            lock.release()

    def _writer_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (one snapshot until it closes); never write through it.

        On SQLite its transaction is a deferred `BEGIN`: a WAL reader that neither takes
        nor waits for the write lock (`begin()` is the one that writes).
        """
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = await conn.execution_options(**{_READ_ONLY: True})
            yield conn

    def now(self, offset_seconds: float = 0.0) -> sa.ColumnElement[Any]:
        """The database clock, plus an offset, as a SQL expression of our UTC column type."""
        from fluxbilling.db.schema import UtcDateTime

        if self.is_sqlite:
            expr: sa.ColumnElement[Any] = sa.func.strftime(
                "%Y-%m-%d %H:%M:%f000", "now", f"{offset_seconds:+.6f} seconds"
            )
        elif offset_seconds:
            expr = sa.func.clock_timestamp() + sa.func.make_interval(
                0, 0, 0, 0, 0, 0, sa.literal(offset_seconds, sa.Float())
            )
        else:
            expr = sa.func.clock_timestamp()
        return sa.type_coerce(expr, UtcDateTime())

    def insert_ignore(self, table: sa.Table) -> Any:
        """`INSERT … ON CONFLICT DO NOTHING` for this dialect (use `.values(...)` on it)."""
        return self.upsert(table).on_conflict_do_nothing()

    def upsert(self, table: sa.Table) -> Any:
        """This dialect's `INSERT` (it has `.on_conflict_do_update` / `.excluded`)."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _configure_postgresql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            # asyncpg translates what the server says, not what the socket says (refused,
            # reset, timed out): raise the driver's own error, which SQLAlchemy wraps.
            error = dialect.loaded_dbapi.OperationalError(
                f"cannot connect to the database server: {exc}", exc
            )
            error.sqlstate = error.pgcode = _PG_UNREACHABLE
            raise error from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (so it can be BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
