"""The operator's dashboard: runs by phase and bucket, orders by state, and the alarm list.

Counting is SQL (`GROUP BY` over indexed columns, migration 0011); deciding is pure and
takes an explicit `now` (the database clock, read once per dashboard):

```
bucket(run state, wait reason)   running | waiting | failed | parked (no capacity: the run
                                 waits for a host, `engine.runs` "no capacity: ...") | None
overdue(candidates, default, now)  paid orders not active after their product's
                                 `alarm_after_minutes` (else the installation's default)
delivery_alarms(rows)            webhook deliveries deferred, rejected or quarantined lately
host_alarms(rows)                hosts quarantined
```

Every alarm has a kind, a message, since when it holds (None when nothing records it) and
what it links to (an order, a delivery, a host). Lists are bounded (`ALARMS_PER_KIND`);
the counts are the whole numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import Database, schema
from fluxbilling.orders.lifecycle import OrderState
from fluxbilling.orders.pipeline import PHASES, PROVISION_KIND, Phase, RunState
from fluxbilling.orders.suggestions import Link

__all__ = [
    "ALARMS_PER_KIND",
    "DELIVERY_WINDOW",
    "Alarm",
    "AlarmKind",
    "Bucket",
    "Dashboard",
    "OverdueCandidate",
    "PhaseCounts",
    "bucket",
    "delivery_alarms",
    "host_alarms",
    "load",
    "overdue",
]

ALARMS_PER_KIND = 50
"""The longest list of alarms of one kind (the counts are not bounded)."""

DELIVERY_WINDOW = timedelta(hours=24)
"""Deferred, rejected or quarantined deliveries received within this window are alarms."""

_CANDIDATES = 1000
"""Paid, not active orders read per dashboard, oldest payment first."""

_NOT_ACTIVE = (OrderState.PROVISIONING_PENDING, OrderState.PROVISIONING, OrderState.FAILED)
_DELIVERY_OUTCOMES = ("deferred", "rejected", "quarantined")
_PARKED_PREFIX = "no capacity"


class Bucket(StrEnum):
    """Where a run that has not ended stands, as the dashboard groups it."""

    RUNNING = "running"
    WAITING = "waiting"
    FAILED = "failed"
    PARKED = "parked"


class AlarmKind(StrEnum):
    """What an alarm is about."""

    ORDER_NOT_ACTIVE = "order_not_active"
    DELIVERY_DEFERRED = "delivery_deferred"
    DELIVERY_REJECTED = "delivery_rejected"
    DELIVERY_QUARANTINED = "delivery_quarantined"
    HOST_QUARANTINED = "host_quarantined"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One thing an operator should look at."""

    kind: AlarmKind
    message: str
    since: datetime | None
    link: Link


@dataclass(frozen=True, slots=True)
class OverdueCandidate:
    """A paid order that is not active (yet)."""

    order_id: int
    hostname: str
    state: OrderState
    phase: str | None
    paid_at: datetime
    alarm_after_minutes: int | None
    """The product's own threshold (None: the installation's default)."""


@dataclass(frozen=True, slots=True)
class PhaseCounts:
    """How many provisioning runs stand at one phase, by bucket."""

    phase: Phase
    running: int = 0
    waiting: int = 0
    failed: int = 0
    parked: int = 0


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the dashboard shows."""

    now: datetime
    phases: tuple[PhaseCounts, ...]
    states: Mapping[OrderState, int]
    alarm_counts: Mapping[AlarmKind, int]
    alarms: tuple[Alarm, ...]


def bucket(state: RunState, wait_reason: str | None) -> Bucket | None:
    """The dashboard's bucket of a run (None: it has ended, completed or cancelled).

    Examples:
        >>> bucket(RunState.QUEUED, "no capacity: no host fits"), bucket(RunState.COMPLETED, None)
        (<Bucket.PARKED: 'parked'>, None)
    """
    if state is RunState.RUNNING:
        return Bucket.RUNNING
    if state is RunState.FAILED:
        return Bucket.FAILED
    if state is RunState.QUEUED:
        parked = (wait_reason or "").startswith(_PARKED_PREFIX)
        return Bucket.PARKED if parked else Bucket.WAITING
    return None


def overdue(
    candidates: Iterable[OverdueCandidate], default_minutes: int, now: datetime
) -> list[Alarm]:
    """The candidates paid longer ago than their threshold, the longest-waiting first.

    Args:
        candidates: paid orders that are not active.
        default_minutes: the threshold of products without their own.
        now: the moment to judge by.

    Returns:
        One `order_not_active` alarm each; `since` is when the threshold passed.
    """
    found: list[tuple[datetime, Alarm]] = []
    for c in candidates:
        minutes = c.alarm_after_minutes if c.alarm_after_minutes is not None else default_minutes
        due = c.paid_at + timedelta(minutes=minutes)
        if due > now:
            continue
        waited = int((now - c.paid_at).total_seconds() // 60)
        where = f" at {c.phase}" if c.phase else ""
        found.append(
            (
                due,
                Alarm(
                    AlarmKind.ORDER_NOT_ACTIVE,
                    f"order {c.order_id} ({c.hostname}) was paid {waited} min ago and is "
                    f"{c.state}{where} (alarm after {minutes} min)",
                    due,
                    Link("order", str(c.order_id)),
                ),
            )
        )
    return [alarm for _, alarm in sorted(found, key=lambda pair: pair[0])]


_DELIVERY_KINDS = {
    "deferred": AlarmKind.DELIVERY_DEFERRED,
    "rejected": AlarmKind.DELIVERY_REJECTED,
    "quarantined": AlarmKind.DELIVERY_QUARANTINED,
}


def delivery_alarms(rows: Iterable[Any]) -> list[Alarm]:
    """One alarm per delivery row (`id`, `gateway`, `outcome`, `error`, `received_at`).

    Examples:
        >>> from types import SimpleNamespace as R
        >>> from datetime import UTC
        >>> at = datetime(2026, 1, 1, tzinfo=UTC)
        >>> [a.message for a in delivery_alarms([R(id=7, gateway="stripe", outcome="rejected",
        ...     error="bad signature", received_at=at)])]
        ['stripe delivery 7 rejected: bad signature']
    """
    alarms = []
    for r in rows:
        reason = f": {str(r.error)[:200]}" if r.error else ""
        alarms.append(
            Alarm(
                _DELIVERY_KINDS[r.outcome],
                f"{r.gateway} delivery {r.id} {r.outcome}{reason}",
                r.received_at,
                Link("delivery", str(r.id)),
            )
        )
    return alarms


def host_alarms(rows: Iterable[Any]) -> list[Alarm]:
    """One alarm per quarantined host row (`id`, `name`); no column records since when."""
    return [
        Alarm(
            AlarmKind.HOST_QUARANTINED,
            f"host {r.name} is quarantined: no new orders are placed on it",
            None,
            Link("host", str(r.id)),
        )
        for r in rows
    ]


async def _phase_counts(conn: AsyncConnection) -> tuple[PhaseCounts, ...]:
    runs = schema.runs
    parked = runs.c.wait_reason.startswith(_PARKED_PREFIX, autoescape=True)
    flag = sa.case((parked, 1), else_=0).label("parked")
    rows = (
        await conn.execute(
            sa.select(runs.c.phase, runs.c.state, flag, sa.func.count().label("n"))
            .where(
                runs.c.kind == PROVISION_KIND,
                runs.c.state.in_([RunState.QUEUED, RunState.RUNNING, RunState.FAILED]),
            )
            .group_by(runs.c.phase, runs.c.state, flag)
        )
    ).all()
    counts: dict[str, dict[str, int]] = {p.value: {} for p in PHASES}
    for r in rows:
        found = bucket(RunState(r.state), _PARKED_PREFIX if r.parked else None)
        if found is not None and r.phase in counts:
            per = counts[r.phase]
            per[found.value] = per.get(found.value, 0) + r.n
    return tuple(PhaseCounts(Phase(p), **per) for p, per in counts.items())


async def _states(conn: AsyncConnection) -> dict[OrderState, int]:
    orders = schema.orders
    rows = await conn.execute(sa.select(orders.c.state, sa.func.count()).group_by(orders.c.state))
    found = {OrderState(state): n for state, n in rows.all()}
    return {state: found.get(state, 0) for state in OrderState}


async def _candidates(conn: AsyncConnection) -> list[OverdueCandidate]:
    t = schema
    rows = (
        await conn.execute(
            sa.select(
                t.orders.c.id,
                t.orders.c.hostname,
                t.orders.c.state,
                t.runs.c.phase,
                t.invoices.c.paid_at,
                t.products.c.alarm_after_minutes,
            )
            .select_from(t.orders)
            .join(t.invoices, t.invoices.c.order_id == t.orders.c.id)
            .join(t.products, t.products.c.id == t.orders.c.product_id)
            .outerjoin(
                t.runs,
                sa.and_(t.runs.c.order_id == t.orders.c.id, t.runs.c.kind == PROVISION_KIND),
            )
            .where(t.orders.c.state.in_(_NOT_ACTIVE), t.invoices.c.paid_at.is_not(None))
            .order_by(t.invoices.c.paid_at)
            .limit(_CANDIDATES)
        )
    ).all()
    return [
        OverdueCandidate(
            r.id, r.hostname, OrderState(r.state), r.phase, r.paid_at, r.alarm_after_minutes
        )
        for r in rows
    ]


async def _deliveries(
    conn: AsyncConnection, since: datetime
) -> tuple[dict[AlarmKind, int], list[Alarm]]:
    events = schema.webhook_events
    recent = sa.and_(events.c.outcome.in_(_DELIVERY_OUTCOMES), events.c.received_at >= since)
    counted = await conn.execute(
        sa.select(events.c.outcome, sa.func.count()).where(recent).group_by(events.c.outcome)
    )
    counts = {_DELIVERY_KINDS[outcome]: n for outcome, n in counted.all()}
    rows = (
        await conn.execute(
            sa.select(
                events.c.id,
                events.c.gateway,
                events.c.outcome,
                events.c.error,
                events.c.received_at,
            )
            .where(recent)
            .order_by(events.c.id.desc())
            .limit(ALARMS_PER_KIND)
        )
    ).all()
    return counts, delivery_alarms(rows)


async def load(db: Database, *, default_alarm_minutes: int) -> Dashboard:
    """Count, find the alarms, and judge them by the database clock, in one read transaction.

    Args:
        db: the database.
        default_alarm_minutes: the threshold of products without `alarm_after_minutes`.
    """
    hosts = schema.hosts
    async with db.connect() as conn:
        now: datetime = (await conn.execute(sa.select(db.now()))).scalar_one()
        phases = await _phase_counts(conn)
        states = await _states(conn)
        late = overdue(await _candidates(conn), default_alarm_minutes, now)
        delivery_counts, deliveries = await _deliveries(conn, now - DELIVERY_WINDOW)
        quarantined = (
            await conn.execute(
                sa.select(hosts.c.id, hosts.c.name)
                .where(hosts.c.status == "quarantined")
                .order_by(hosts.c.id)
            )
        ).all()
    counts = {kind: 0 for kind in AlarmKind}
    counts.update(delivery_counts)
    counts[AlarmKind.ORDER_NOT_ACTIVE] = len(late)
    counts[AlarmKind.HOST_QUARANTINED] = len(quarantined)
    alarms = late[:ALARMS_PER_KIND] + deliveries + host_alarms(quarantined[:ALARMS_PER_KIND])
    return Dashboard(now, phases, states, counts, tuple(alarms))
