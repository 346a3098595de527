"""The dashboard's decisions with literals and an explicit `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from fluxbilling.orders.dashboard import (
    AlarmKind,
    Bucket,
    OverdueCandidate,
    bucket,
    delivery_alarms,
    host_alarms,
    overdue,
)
from fluxbilling.orders.lifecycle import OrderState
from fluxbilling.orders.pipeline import RunState
from fluxbilling.orders.suggestions import Link

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_buckets() -> None:
    assert bucket(RunState.RUNNING, None) is Bucket.RUNNING
    assert bucket(RunState.FAILED, "gave up") is Bucket.FAILED
    assert bucket(RunState.QUEUED, "retrying: 503") is Bucket.WAITING
    assert bucket(RunState.QUEUED, None) is Bucket.WAITING
    assert bucket(RunState.QUEUED, "no capacity: no active host fits") is Bucket.PARKED
    assert bucket(RunState.COMPLETED, None) is None
    assert bucket(RunState.CANCELLED, None) is None


def _paid(order_id: int, minutes_ago: int, own: int | None = None) -> OverdueCandidate:
    return OverdueCandidate(
        order_id,
        f"o{order_id}.example.com",
        OrderState.PROVISIONING,
        "provision",
        NOW - timedelta(minutes=minutes_ago),
        own,
    )


def test_overdue_uses_the_products_threshold_else_the_default() -> None:
    candidates = [
        _paid(1, 29),
        _paid(2, 31),
        _paid(3, 90, own=120),
        _paid(4, 10, own=5),
        _paid(5, 30),
    ]
    alarms = overdue(candidates, 30, NOW)
    assert [a.link for a in alarms] == [Link("order", "4"), Link("order", "2"), Link("order", "5")]
    assert all(a.kind is AlarmKind.ORDER_NOT_ACTIVE for a in alarms)
    assert [a.since for a in alarms] == [
        NOW - timedelta(minutes=5),
        NOW - timedelta(minutes=1),
        NOW,
    ]
    assert alarms[1].message == (
        "order 2 (o2.example.com) was paid 31 min ago and is provisioning at provision "
        "(alarm after 30 min)"
    )
    assert overdue(candidates, 30, NOW - timedelta(hours=2)) == []


def test_deliveries_and_hosts() -> None:
    rows = [
        SimpleNamespace(id=3, gateway="mollie", outcome="deferred", error=None, received_at=NOW),
        SimpleNamespace(
            id=4, gateway="stripe", outcome="quarantined", error="x" * 500, received_at=NOW
        ),
    ]
    deferred, quarantined = delivery_alarms(rows)
    assert (deferred.kind, deferred.message, deferred.link) == (
        AlarmKind.DELIVERY_DEFERRED,
        "mollie delivery 3 deferred",
        Link("delivery", "3"),
    )
    assert quarantined.kind is AlarmKind.DELIVERY_QUARANTINED and len(quarantined.message) < 250
    (host,) = host_alarms([SimpleNamespace(id=9, name="hv-1")])
    assert (host.kind, host.since, host.link) == (
        AlarmKind.HOST_QUARANTINED,
        None,
        Link("host", "9"),
    )
