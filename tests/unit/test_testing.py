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
    with pytest.raises(errors.IllegalTransition):
        await writes.transition_service(SERVICE_ID, lifecycle.ServiceEvent.HANDED_OFF, "early")
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
