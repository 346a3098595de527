from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.allocation.reservation import Reservation
from fluxbilling.engine.outcome import Done
from fluxbilling.orders.phases.allocation import AllocationPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig, order_view

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.ALLOCATION)
HOST = Reservation(21, "hv-ams1-01", 31, "192.0.2.10")


async def test_execute_does_nothing_outside_the_transaction() -> None:
    rig = Rig()
    assert await AllocationPhase(rig.deps).execute(CTX) == Done()
    assert rig.store.activity == []


async def test_an_ipam_product_reserves_a_host_and_an_address() -> None:
    rig = Rig(view=order_view(ours=False, service_status="allocated"))
    rig.store.reservation = HOST
    rig.store.next_service_id = SERVICE_ID
    out = await AllocationPhase(rig.deps).commit(NO_CONNECTION, CTX, Done())
    assert out == {**HOST.to_dict(), "service_id": SERVICE_ID}
    address = rig.store.views[ORDER_ID].address
    assert (address["address"], address["service_id"]) == ("192.0.2.10", SERVICE_ID)
    # The service is created in the service machine's initial state, on the chosen host.
    assert (rig.service["status"], rig.service["host_id"]) == ("allocated", 21)
    [row] = rig.store.activity
    assert row.event == "capacity_reserved"
    assert row.message == ("reserved 2048 MB / 2 vCPU / 40 GB on hv-ams1-01, address 192.0.2.10")
    assert row.data == out


async def test_a_provider_addressed_product_reserves_capacity_only() -> None:
    rig = Rig(view=order_view(service_type="shared", ours=False))
    rig.store.reservation = HOST
    out = await AllocationPhase(rig.deps).commit(NO_CONNECTION, CTX, Done())
    assert out["address"] is None
    assert out["subnet_id"] is None
    assert rig.store.views[ORDER_ID].address == {}
    assert rig.store.activity[0].message.endswith("on hv-ams1-01, the provider assigns the address")


async def test_no_capacity_parks_the_run_and_records_nothing() -> None:
    rig = Rig()
    with pytest.raises(errors.CapacityExhausted):
        await AllocationPhase(rig.deps).commit(NO_CONNECTION, CTX, Done())
    assert rig.store.activity == []


async def test_a_held_checkout_hold_is_adopted_instead_of_reserving_again() -> None:
    rig = Rig(view=order_view(ours=False, service_status="allocated"))
    rig.store.holds[ORDER_ID] = HOST  # `reservation` stays None: reserving would raise
    rig.store.next_service_id = SERVICE_ID
    out = await AllocationPhase(rig.deps).commit(NO_CONNECTION, CTX, Done())
    assert out == {**HOST.to_dict(), "service_id": SERVICE_ID}
    assert rig.store.holds == {}
    address = rig.store.views[ORDER_ID].address
    assert (address["address"], address["service_id"]) == ("192.0.2.10", SERVICE_ID)
    assert [row.event for row in rig.store.activity] == ["hold_consumed", "capacity_reserved"]
    assert rig.store.activity[0].message == "checkout hold adopted: hv-ams1-01, address 192.0.2.10"
