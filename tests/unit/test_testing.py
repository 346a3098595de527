"""The public fakes keep the promises their docstrings make."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, InMemoryRdns, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig

pytestmark = pytest.mark.anyio


async def test_a_phase_context_refuses_the_database() -> None:
    ctx = phase_context(ORDER_ID, Phase.PROVISION)
    assert ctx.correlation_key == f"{ORDER_ID}:provision"
    with pytest.raises(errors.InvariantViolation, match="used the database"):
        ctx.db.begin()
    with pytest.raises(errors.InvariantViolation, match="used the database connection"):
        await NO_CONNECTION.commit()


async def test_reads_are_copies_and_writes_follow_the_lifecycle() -> None:
    rig = Rig()
    seen = await rig.store.view(ORDER_ID)
    seen.service["status"] = "active"
    assert rig.service["status"] == "allocated"
    writes = rig.store.writes(NO_CONNECTION, phase_context(ORDER_ID, Phase.HANDOFF))
    handed_off = lifecycle.service(SERVICE_ID, lifecycle.ServiceEvent.HANDED_OFF)
    with pytest.raises(errors.IllegalTransition):
        await writes.transition("service_active", "early", handed_off)
    with pytest.raises(errors.InvariantViolation, match=r"orders\.lifecycle only"):
        await writes.merge_service_data(SERVICE_ID, {}, status="active")
    with pytest.raises(errors.NotFound):
        await writes.action(99)
    with pytest.raises(errors.NotFound):
        await rig.store.view(99)
    assert rig.store.activity == []


async def test_in_memory_rdns_keeps_records_and_raises_queued_failures() -> None:
    rdns = InMemoryRdns(failures=[errors.TransientUpstreamError("dns down")])
    with pytest.raises(errors.TransientUpstreamError):
        await rdns.set_ptr("192.0.2.10", "web1.example.net")
    assert await rdns.set_ptr("192.0.2.10", "web1.example.net") == (
        "2.0.192.in-addr.arpa",
        "10.2.0.192.in-addr.arpa",
    )
    assert rdns.records == {"192.0.2.10": "web1.example.net"}
    await rdns.delete_ptr("192.0.2.10")
    await rdns.delete_ptr("192.0.2.10")  # already gone: fine
    assert rdns.records == {}


async def test_a_transition_is_one_row_and_a_refused_move_writes_nothing() -> None:
    rig = Rig()  # order 7 provisioning, service 11 allocated
    writes = rig.store.writes(NO_CONNECTION, phase_context(ORDER_ID, Phase.HANDOFF))
    provisioned = lifecycle.service(SERVICE_ID, lifecycle.ServiceEvent.PROVISIONED)
    handed_off = lifecycle.order(ORDER_ID, lifecycle.OrderEvent.HANDED_OFF)
    service_handed_off = lifecycle.service(SERVICE_ID, lifecycle.ServiceEvent.HANDED_OFF)
    with pytest.raises(errors.IllegalTransition):  # the order may move, the service may not
        await writes.transition("service_active", "x", handed_off, service_handed_off)
    with pytest.raises(errors.InvariantViolation, match="each machine once"):
        await writes.transition("service_active", "x", handed_off, handed_off)
    with pytest.raises(errors.NotFound):
        await writes.transition("x", "x", lifecycle.order(99, lifecycle.OrderEvent.PAID))
    other = rig.store.writes(NO_CONNECTION, phase_context(8, Phase.HANDOFF))
    with pytest.raises(errors.InvariantViolation, match="belongs to order 7, not to order 8"):
        await other.transition("x", "x", provisioned)
    assert (rig.service["status"], rig.store.views[ORDER_ID].order["state"]) == (
        "allocated",
        "provisioning",
    )
    assert rig.store.activity == []
    await writes.transition("service_provisioned", "id 9", provisioned, data={"n": 1})
    [row] = rig.store.activity
    assert (row.order_id, row.event, row.message) == (ORDER_ID, "service_provisioned", "id 9")
    assert row.data == {
        "n": 1,
        "service": {"id": SERVICE_ID, "event": "provisioned", "to": "provisioned"},
    }
    assert rig.service["status"] == "provisioned"
