from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fluxbilling.allocation.holds import Hold, HoldState, on_checkout
from fluxbilling.allocation.reservation import Reservation

AT = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def hold(address: str | None = "192.0.2.10", host_name: str | None = "hv-1") -> Hold:
    return Hold(
        id=5,
        order_id=7,
        host_id=3,
        host_name=host_name,
        subnet_id=2 if address else None,
        address=address,
        ram_mb=2048,
        vcpus=2,
        disk_gb=40,
        nic_mbps=100,
        storage_pool_id=9,
        state=HoldState.HELD,
        reason=None,
        expires_at=AT,
        created_at=AT,
        updated_at=AT,
    )


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (None, "place"),
        (HoldState.HELD, "extend"),
        (HoldState.CONSUMED, "keep"),
        (HoldState.RELEASED, "place"),
        (HoldState.EXPIRED, "place"),
    ],
)
def test_a_checkout_places_extends_or_keeps(state: HoldState | None, step: str) -> None:
    assert on_checkout(state) == step


def test_a_hold_is_adopted_as_the_reservation_it_made() -> None:
    assert hold().reservation() == Reservation(3, "hv-1", 2, "192.0.2.10", pool_id=9)
    assert hold(address=None).reservation() == Reservation(3, "hv-1", None, None, pool_id=9)


def test_a_hold_describes_what_it_holds() -> None:
    assert hold().describe() == "2048 MB / 2 vCPU / 40 GB on hv-1, address 192.0.2.10"
    assert hold(None, None).describe() == "2048 MB / 2 vCPU / 40 GB on host 3, no address of ours"
