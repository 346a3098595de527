"""Wake-ups: a worker sleeps until a run may be ready, never longer than its polling interval.

In one process an `asyncio.Event` is enough (SQLite, the embedded default). On PostgreSQL,
`PgListener` LISTENs on the runs channel, so enqueues from any API process wake every
worker at once; the jittered polling interval stays as the fallback when a notification
is missed (a dropped connection, a worker that started after the NOTIFY).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

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
    """LISTENs on the runs channel with a dedicated asyncpg connection and pokes a `Wakeup`."""

    def __init__(self, dsn: str, wakeup: Wakeup) -> None:
        self._dsn = dsn
        self._wakeup = wakeup
        self._conn: object | None = None

    async def start(self) -> None:
        """Open the connection and LISTEN; failures leave polling in charge."""
        import asyncpg

        try:
            conn = await asyncpg.connect(self._dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN unavailable, polling only: %s", type(exc).__name__)
            return
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._conn = conn

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.notify()

    async def stop(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # type: ignore[attr-defined]
