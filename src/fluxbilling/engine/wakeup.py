"""Wake-ups: a worker sleeps until a run may be ready, never longer than its polling interval.

In one process an `asyncio.Event` is enough (SQLite, the embedded default). On PostgreSQL,
`PgListener` LISTENs on the runs channel, so enqueues from any API process wake every
worker at once; the jittered polling interval stays as the fallback when a notification
is missed (a dropped connection, a worker that started after the NOTIFY). A lost LISTEN
connection (a PostgreSQL restart) is re-established in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from fluxbilling.engine import outage
from fluxbilling.engine.policy import RetryPolicy
from fluxbilling.engine.runs import NOTIFY_CHANNEL

__all__ = ["PgListener", "Wakeup"]

log = logging.getLogger(__name__)


class Wakeup:
    """An in-process wake-up signal with a jittered timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake whoever waits (safe to call from the event loop's thread only)."""
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a notification or `timeout` seconds (±20 % jitter); True when notified."""
        jittered = timeout * random.uniform(0.8, 1.2)  # noqa: S311 - not cryptographic
        try:
            async with asyncio.timeout(jittered):
                await self._event.wait()
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True


class PgListener:
    """LISTENs on the runs channel with a dedicated asyncpg connection and pokes a `Wakeup`.

    The connection outlives server restarts: when it is lost (or cannot be opened at all),
    polling stays in charge while a background task reconnects with the backoff of
    `policy`; once LISTENing again it pokes the `Wakeup`, since whatever was notified in
    between is lost.

    Args:
        dsn: a libpq-style URL of the database.
        wakeup: what to poke on every notification.
        policy: the waits between reconnection attempts.
    """

    def __init__(
        self, dsn: str, wakeup: Wakeup, *, policy: RetryPolicy = outage.DATABASE_TROUBLE
    ) -> None:
        self._dsn = dsn
        self._wakeup = wakeup
        self._policy = policy
        self._conn: Any = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up right now."""
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Open the connection and LISTEN; on failure, polling is in charge until it works."""
        if not await self._listen():
            self._reconnect_later()

    async def _listen(self) -> bool:
        import asyncpg

        conn = None
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("LISTEN unavailable, polling only: %s", type(exc).__name__)
            if conn is not None:
                conn.terminate()
            return False
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        return True

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.notify()

    def _on_lost(self, _conn: object) -> None:
        self._conn = None
        if not self._closing:
            log.warning("LISTEN connection lost; polling until it is re-established")
            self._reconnect_later()

    def _reconnect_later(self) -> None:
        if self._closing or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        failures = 1
        while not self._closing:
            await asyncio.sleep(outage.wait_after(failures, self._policy))
            if await self._listen():
                log.info("LISTEN connection re-established")
                self._wakeup.notify()
                return
            failures += 1

    async def stop(self) -> None:
        """Stop reconnecting and close the connection."""
        self._closing = True
        task, self._reconnecting = self._reconnecting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
