"""The order page's placement rows, from a stored summary or a no-capacity error (pure)."""

from __future__ import annotations

import doctest

from fluxbilling.orders import placement


def test_the_doctests_hold() -> None:
    assert doctest.testmod(placement).failed == 0


SUMMARY = {
    "strategy": "spread",
    "chosen": {"host_id": 2, "host": "kvm-02", "pool": None, "ram_mb_left": 4096},
    "runners_up": [{"host_id": 1, "host": "kvm-01", "pool": "ssd0", "ram_mb_left": 1024}],
    "fitting": 2,
    "rejected": {"ram": 1},
    "rejections": [{"host_id": 3, "host": "kvm-03", "reason": "ram", "text": "RAM: ..."}],
    "not_examined": 0,
    "failed_hosts": [9],
}


def test_the_allocation_output_wins_over_the_last_error() -> None:
    view = placement.from_order({"host_id": 2, "placement": SUMMARY}, None)
    assert view is not None
    assert view.chosen == placement.PlacementHost(2, "kvm-02", None, 4096)
    assert view.runners_up[0].pool == "ssd0"
    assert view.rejections[0].reason == "ram"
    assert view.failed_hosts == (9,)


def test_a_parked_order_shows_the_placement_of_its_capacity_error() -> None:
    error = {"code": "CapacityExhausted", "message": "...", "details": {"placement": SUMMARY}}
    assert placement.from_order(None, error) is not None
    assert placement.from_order(None, {**error, "code": "PermanentUpstreamError"}) is None


def test_anything_else_is_no_placement() -> None:
    assert placement.from_order({"host_id": 1}, None) is None  # allocated before placement
    assert placement.parse({"strategy": "fill", "rejections": [{"host_id": "x"}]}) is None
