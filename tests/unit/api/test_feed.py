"""The change feed's pure parts: positions, changes from rows, bounded queues, the wire."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fluxbilling import errors
from fluxbilling.api import feed
from fluxbilling.api.events import encode
from fluxbilling.api.feed import Change, Position, Subscription, from_activity, from_delivery


def test_positions_parse_and_print() -> None:
    assert Position.parse("12.3") == Position(12, 3)
    assert str(Position(12, 3)) == "12.3"
    assert Position(5, 1).after(Position(2, 9)) == Position(5, 9)
    for bad in ("", "12", "a.b", "1.2.3", "-1.0", "1 .0", "\u0661.\u0662", "1" * 19 + ".0"):
        with pytest.raises(errors.InvalidBody, match="Last-Event-ID"):
            Position.parse(bad)


def test_an_activity_row_tells_its_order_run_and_service() -> None:
    row = SimpleNamespace(
        id=9,
        order_id=4,
        run_id=2,
        event="phase_completed",
        phase="handoff",
        data={
            "order": {"event": "handed_off", "to": "active"},
            "service": {"id": 6, "to": "active"},
        },
    )
    order, run, service = from_activity(row, Position(9, 1))
    assert (order.kind, order.data) == (
        "order",
        {"order_id": 4, "event": "phase_completed", "phase": "handoff", "state": "active"},
    )
    assert (run.kind, run.data["run_id"], service.kind, service.data) == (
        "run",
        2,
        "service",
        {"service_id": 6, "order_id": 4, "state": "active"},
    )
    assert [c.last_of_position for c in (order, run, service)] == [False, False, True]
    bare = SimpleNamespace(
        id=1, order_id=4, run_id=None, event="order_created", phase=None, data=None
    )
    (only,) = from_activity(bare, Position(1, 0))
    assert only.last_of_position and "state" not in only.data


def test_a_delivery_row_is_ids_and_states_only() -> None:
    row = SimpleNamespace(
        id=3, gateway="stripe", outcome="processed", verification="valid", invoice_id=8
    )
    change = from_delivery(row, Position(0, 3))
    assert change.data == {
        "delivery_id": 3,
        "gateway": "stripe",
        "outcome": "processed",
        "verification": "valid",
        "invoice_id": 8,
    }


def test_a_slow_subscriber_gets_one_reset_not_an_unbounded_queue() -> None:
    sub = Subscription()
    for i in range(feed.QUEUE + 50):
        sub.offer(Change("order", {"order_id": i}, Position(i, 0)))
    assert sub.queue.qsize() == 1 and sub.overflowed
    (reset,) = [sub.queue.get_nowait()]
    assert reset.kind == "reset"


def test_the_wire_format() -> None:
    change = Change("run", {"run_id": 1, "phase": "provision"}, Position(3, 4))
    assert encode(change, Position(3, 4)) == (
        b'event: run\ndata: {"run_id":1,"phase":"provision"}\nid: 3.4\n\n'
    )
    assert encode(change, None) == b'event: run\ndata: {"run_id":1,"phase":"provision"}\n\n'
    odd = Change("order", {"note": "line\nbreak \u2028"}, Position(1, 0))
    assert encode(odd, None).count(b"\n") == 3  # JSON escapes the line breaks
