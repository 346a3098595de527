"""The change feed behind `GET /api/v1/events`: one reader per process, many subscribers.

Every state change writes an activity row in its transaction (orders, runs, phases,
services), and every webhook delivery is a `webhook_events` row; both tables only grow, so
tailing them by id sees every change made by any process, on SQLite and on PostgreSQL
alike. One task per process reads what is new every `interval` seconds, while somebody
listens, and hands each subscriber small `Change`s (ids and new states, never messages or
bodies), which the console uses to invalidate its queries:

```
activity row        order {order_id, event, phase, state?}   every row
                    run {run_id, order_id, phase, event}     rows of a run
                    service {service_id, order_id, state}    rows that moved a service
delivery row        delivery {delivery_id, gateway, outcome, verification, invoice_id}
                    new rows, and again when an unsettled one (no outcome yet, deferred,
                    verification pending) changes: up to `_WATCHED` are watched
```

A change's `position` is `(activity id, delivery id)`: the event id a client sends back
(`Last-Event-ID`) to resume. Resuming reads what it missed from the tables, up to
`BACKLOG`; past that, and when a slow subscriber's queue (`QUEUE` changes) overflows, it
gets one `reset` (refetch everything) instead of an unbounded buffer.

On PostgreSQL a transaction may commit after a later id was read (ids are taken at insert);
ids skipped by a read are re-read for `_GAP_SECONDS` before they count as rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.jsontypes import JsonObject

__all__ = [
    "BACKLOG",
    "QUEUE",
    "Change",
    "Feed",
    "Position",
    "Subscription",
    "TooManyStreams",
    "from_activity",
    "from_delivery",
]

log = logging.getLogger(__name__)

BACKLOG = 1000
"""Rows of each table a resuming client may have missed; past that it gets a `reset`."""
QUEUE = 512
"""Changes waiting for one subscriber; past that it gets a `reset`."""
_BATCH = 500
_WATCHED = 256
_GAP_SECONDS = 10.0
_GAPS = 1000
_UNSETTLED_OUTCOMES = (None, "deferred")


class TooManyStreams(errors.FluxError):
    """Too many event streams are open; try again shortly."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a reader stands: the last activity id and the last delivery id it has seen."""

    activity: int = 0
    delivery: int = 0

    def __str__(self) -> str:
        return f"{self.activity}.{self.delivery}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """A position from an event id (`<activity id>.<delivery id>`).

        Raises:
            errors.InvalidBody: not two decimal ids of at most 18 digits.

        Examples:
            >>> Position.parse("12.3")
            Position(activity=12, delivery=3)
        """
        first, dot, second = text.strip().partition(".")
        if not (dot and _id_text(first) and _id_text(second)):
            raise errors.InvalidBody(
                "Last-Event-ID must be an event id of this stream, `<activity id>.<delivery id>`",
                last_event_id=text[:40],
            )
        return cls(int(first), int(second))

    def after(self, other: Position) -> Position:
        """The later of the two in each component."""
        return Position(max(self.activity, other.activity), max(self.delivery, other.delivery))


def _log_failure(task: asyncio.Task[None]) -> None:
    """A reader that died of an error says so (the next subscriber starts a new one)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("event feed stopped by an error", exc_info=exc)


def _id_text(text: str) -> bool:
    return text.isascii() and text.isdecimal() and len(text) <= 18


@dataclass(frozen=True, slots=True)
class Change:
    """One event of the stream: its kind (the SSE `event`), payload and position."""

    kind: str
    data: JsonObject
    position: Position
    last_of_position: bool = True
    """Whether a client that saw it has seen everything at its position (the SSE id)."""


def from_activity(row: Any, position: Position) -> list[Change]:
    """The changes of one activity row (`id`, `order_id`, `run_id`, `event`, `phase`, `data`).

    Examples:
        >>> from types import SimpleNamespace as R
        >>> row = R(id=9, order_id=4, run_id=2, event="phase_failed", phase="provision",
        ...         data={"order": {"event": "failed", "to": "failed"}})
        >>> [c.kind for c in from_activity(row, Position(9, 0))]
        ['order', 'run']
    """
    data: Mapping[str, Any] = row.data if isinstance(row.data, Mapping) else {}
    order: JsonObject = {"order_id": row.order_id, "event": row.event, "phase": row.phase}
    moved = data.get("order")
    if isinstance(moved, Mapping) and isinstance(moved.get("to"), str):
        order["state"] = moved["to"]
    found = [Change("order", order, position, False)]
    if row.run_id is not None:
        found.append(
            Change(
                "run",
                {
                    "run_id": row.run_id,
                    "order_id": row.order_id,
                    "phase": row.phase,
                    "event": row.event,
                },
                position,
                False,
            )
        )
    service = data.get("service")
    if isinstance(service, Mapping) and isinstance(service.get("id"), int):
        found.append(
            Change(
                "service",
                {"service_id": service["id"], "order_id": row.order_id, "state": service.get("to")},
                position,
                False,
            )
        )
    last = found[-1]
    found[-1] = Change(last.kind, last.data, last.position, True)
    return found


def from_delivery(row: Any, position: Position) -> Change:
    """The change of one delivery row (`id`, `gateway`, `outcome`, `verification`,
    `invoice_id`)."""
    return Change(
        "delivery",
        {
            "delivery_id": row.id,
            "gateway": row.gateway,
            "outcome": row.outcome,
            "verification": row.verification,
            "invoice_id": row.invoice_id,
        },
        position,
    )


_ACTIVITY = schema.activity_log
_EVENTS = schema.webhook_events
_ACTIVITY_COLUMNS = (
    _ACTIVITY.c.id,
    _ACTIVITY.c.order_id,
    _ACTIVITY.c.run_id,
    _ACTIVITY.c.event,
    _ACTIVITY.c.phase,
    _ACTIVITY.c.data,
)
_DELIVERY_COLUMNS = (
    _EVENTS.c.id,
    _EVENTS.c.gateway,
    _EVENTS.c.outcome,
    _EVENTS.c.verification,
    _EVENTS.c.invoice_id,
)


def _unsettled(row: Any) -> bool:
    return row.outcome in _UNSETTLED_OUTCOMES or row.verification == "pending"


@dataclass(slots=True, eq=False)
class Subscription:
    """One stream's queue of changes, bounded: on overflow it owes one `reset` instead."""

    queue: asyncio.Queue[Change] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    overflowed: bool = False

    def offer(self, change: Change) -> None:
        """Queue `change`; on overflow, drop everything queued and queue one `reset`."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(Change("reset", {"reason": "too many changes"}, change.position))


class Feed:
    """Reads new activity and delivery rows while somebody listens; fans them out.

    Args:
        db: the database.
        interval: seconds between reads.
        max_streams: subscribers at once (`TooManyStreams` past it).
    """

    def __init__(self, db: Database, *, interval: float, max_streams: int) -> None:
        self.db = db
        self.interval = interval
        self.max_streams = max_streams
        self.head = Position()
        self._subscribers: set[Subscription] = set()
        self._reader: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._closed = asyncio.Event()
        self._watched: dict[int, tuple[str | None, str]] = {}
        self._gaps: dict[int, float] = {}

    @property
    def streams(self) -> int:
        """Subscribers now."""
        return len(self._subscribers)

    @property
    def closed(self) -> asyncio.Event:
        """Set by `close`: every stream ends."""
        return self._closed

    async def open(self, since: Position | None) -> Subscription:
        """A new subscription from `since` (None: from now); `release` it when done.

        Raises:
            TooManyStreams: `max_streams` subscribers already, or the feed is closed.
        """
        if len(self._subscribers) >= self.max_streams or self._closed.is_set():
            raise TooManyStreams(max_streams=self.max_streams)
        sub = Subscription()
        self._subscribers.add(sub)
        try:
            await self._start()
            if since is not None:
                await self._backlog(sub, since, self.head)
        except BaseException:
            self.release(sub)
            raise
        return sub

    def release(self, sub: Subscription) -> None:
        """Forget `sub` (again is harmless); the last one out stops the reader."""
        self._subscribers.discard(sub)
        if not self._subscribers and self._reader is not None:
            self._reader.cancel()
            self._reader = None

    def close(self) -> None:
        """End every stream now (server shutdown); no new ones are accepted."""
        self._closed.set()

    async def _start(self) -> None:
        """Read the head and start the reader, unless it runs (a database error: the caller's)."""
        async with self._starting:
            if self._reader is not None and not self._reader.done():
                return
            async with self.db.connect() as conn:
                first = (
                    await conn.execute(
                        sa.select(
                            sa.select(sa.func.max(_ACTIVITY.c.id)).scalar_subquery(),
                            sa.select(sa.func.max(_EVENTS.c.id)).scalar_subquery(),
                        )
                    )
                ).one()
            self.head = Position(first[0] or 0, first[1] or 0)
            self._gaps.clear()
            self._watched.clear()
            self._reader = asyncio.create_task(self._read_forever(), name="event feed")
            self._reader.add_done_callback(_log_failure)

    async def _backlog(self, sub: Subscription, since: Position, head: Position) -> None:
        """Queue, before anything live, what a resuming subscriber missed up to `head`.

        Live changes queued meanwhile come after it; one seen twice only invalidates twice.
        """
        async with self.db.connect() as conn:
            activity = await self._activity_after(conn, since.activity, head.activity, BACKLOG)
            deliveries = await self._deliveries_after(conn, since.delivery, head.delivery, BACKLOG)
        live = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        if len(activity) >= BACKLOG or len(deliveries) >= BACKLOG:
            missed = [Change("reset", {"reason": "too much was missed"}, head)]
        else:
            missed = self._changes(activity, deliveries, since)
        for change in [*missed, *live]:
            sub.offer(change)

    async def _activity_after(
        self, conn: AsyncConnection, after: int, upto: int | None, limit: int
    ) -> Sequence[Any]:
        query = sa.select(*_ACTIVITY_COLUMNS).where(_ACTIVITY.c.id > after)
        if upto is not None:
            query = query.where(_ACTIVITY.c.id <= upto)
        return (await conn.execute(query.order_by(_ACTIVITY.c.id).limit(limit))).all()

    async def _deliveries_after(
        self, conn: AsyncConnection, after: int, upto: int | None, limit: int
    ) -> Sequence[Any]:
        query = sa.select(*_DELIVERY_COLUMNS).where(_EVENTS.c.id > after)
        if upto is not None:
            query = query.where(_EVENTS.c.id <= upto)
        return (await conn.execute(query.order_by(_EVENTS.c.id).limit(limit))).all()

    @staticmethod
    def _changes(
        activity: Sequence[Any], deliveries: Sequence[Any], start: Position
    ) -> list[Change]:
        changes: list[Change] = []
        position = start
        for row in activity:
            position = Position(max(position.activity, row.id), position.delivery)
            changes += from_activity(row, position)
        for row in deliveries:
            position = Position(position.activity, max(position.delivery, row.id))
            changes.append(from_delivery(row, position))
        return changes

    async def _read_forever(self) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._closed.wait()
            try:
                await self.read_once()
            except (OSError, sa.exc.DBAPIError) as exc:
                log.warning("event feed: database unavailable (%s)", type(exc).__name__)

    async def read_once(self) -> None:
        """Read what is new since the head and hand it to every subscriber."""
        async with self.db.connect() as conn:
            activity = await self._activity_after(conn, self.head.activity, None, _BATCH)
            deliveries = await self._deliveries_after(conn, self.head.delivery, None, _BATCH)
            late = await self._late_rows(conn)
            updated = await self._watched_changes(conn)
        self._note_gaps([r.id for r in activity], self.head.activity)
        changes = self._changes([*late, *activity], deliveries, self.head)
        for row in deliveries:
            if _unsettled(row) and len(self._watched) < _WATCHED:
                self._watched[row.id] = (row.outcome, row.verification)
        if changes:
            self.head = self.head.after(changes[-1].position)
        for change in [*changes, *updated]:
            for sub in list(self._subscribers):
                sub.offer(change)

    def _note_gaps(self, ids: Sequence[int], after: int) -> None:
        """Remember ids skipped by this read (a transaction may commit them later)."""
        expected = after + 1
        now = time.monotonic()
        for found in ids:
            for missing in range(expected, min(found, expected + _GAPS)):
                if len(self._gaps) < _GAPS:
                    self._gaps[missing] = now + _GAP_SECONDS
            expected = found + 1
        for gap, until in list(self._gaps.items()):
            if until < now:
                del self._gaps[gap]

    async def _late_rows(self, conn: AsyncConnection) -> Sequence[Any]:
        if not self._gaps:
            return ()
        rows = (
            await conn.execute(
                sa.select(*_ACTIVITY_COLUMNS).where(_ACTIVITY.c.id.in_(list(self._gaps)))
            )
        ).all()
        for row in rows:
            self._gaps.pop(row.id, None)
        return rows

    async def _watched_changes(self, conn: AsyncConnection) -> list[Change]:
        if not self._watched:
            return []
        rows = (
            await conn.execute(
                sa.select(*_DELIVERY_COLUMNS).where(_EVENTS.c.id.in_(list(self._watched)))
            )
        ).all()
        changes = []
        for row in rows:
            if (row.outcome, row.verification) == self._watched.get(row.id):
                continue
            change = from_delivery(row, self.head)
            changes.append(change)
            if _unsettled(row):
                self._watched[row.id] = (row.outcome, row.verification)
            else:
                del self._watched[row.id]
        return changes
