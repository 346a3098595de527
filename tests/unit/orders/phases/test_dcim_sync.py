"""The DCIM sync phase with the in-memory inventory system and records."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.engine.outcome import Done
from fluxbilling.network.dcim_drift import Kind
from fluxbilling.network.dcim_sync import Facts
from fluxbilling.orders.phases.dcim_sync import DcimSyncPhase
from fluxbilling.orders.phases.deps import DcimDeps
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, InMemoryDcim, InMemoryDcimRecords, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig, order_view

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.DCIM_SYNC)
FACTS = Facts(
    service_id=SERVICE_ID,
    site_code="AMS1",
    site_name="Amsterdam 1",
    host_name="hv-ams1-01",
    interface=f"svc-{SERVICE_ID}",
    address="192.0.2.10",
    dns_name="web1.example.net",
)


def rig() -> tuple[Rig, InMemoryDcim, InMemoryDcimRecords]:
    netbox, records = InMemoryDcim(), InMemoryDcimRecords()
    records.facts_of[SERVICE_ID] = FACTS
    return (
        Rig(view=order_view(service_status="active"), dcim=DcimDeps(netbox, records)),
        netbox,
        records,
    )


async def sync_once(phase: DcimSyncPhase) -> Done:
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    await phase.commit(NO_CONNECTION, CTX, done)
    return done


async def test_the_service_reaches_the_inventory_and_a_repeat_changes_nothing() -> None:
    r, netbox, records = rig()
    phase = DcimSyncPhase(r.deps)
    first = await sync_once(phase)
    assert len(first.output["created"]) == 4
    ip = netbox.find_by(Kind.IP_ADDRESS, address="192.0.2.10")
    assert ip is not None and ip["values"]["dns_name"] == "web1.example.net"
    assert len(records.pushed_of) == 4
    second = await sync_once(phase)
    assert (second.output["created"], second.output["updated"]) == ([], [])
    assert r.store.events(ORDER_ID) == ["dcim_synced", "dcim_synced"]


async def test_an_edit_there_is_reported_once_and_left_alone() -> None:
    r, netbox, records = rig()
    phase = DcimSyncPhase(r.deps)
    await sync_once(phase)
    ip_id = records.pushed_of[("ip_address", f"service:{SERVICE_ID}:address")].remote_id
    netbox.edit(Kind.IP_ADDRESS, ip_id, dns_name="by-hand.example.net")
    await sync_once(phase)
    await sync_once(phase)
    assert netbox.objects[Kind.IP_ADDRESS][ip_id]["values"]["dns_name"] == "by-hand.example.net"
    (drift,) = records.drift
    assert (drift.field, drift.ours, drift.theirs) == (
        "dns_name",
        "web1.example.net",
        "by-hand.example.net",
    )
    drift_rows = [a for a in r.store.activity if a.event == "dcim_drift"]
    assert len(drift_rows) == 1
    assert "by-hand.example.net" in drift_rows[0].message
    assert drift_rows[0].data["key"] == f"service:{SERVICE_ID}:address"


async def test_an_outage_fails_the_attempt_and_writes_nothing() -> None:
    r, netbox, records = rig()
    netbox.fail_with(errors.TransientUpstreamError("down", upstream="netbox", operation="find"))
    with pytest.raises(errors.TransientUpstreamError):
        await DcimSyncPhase(r.deps).execute(CTX)
    assert records.pushed_of == {} and r.store.activity == []


async def test_without_an_inventory_system_or_facts_the_sync_is_skipped() -> None:
    for deps in (Rig(view=order_view(service_status="active")).deps, rig()[0].deps):
        if deps.dcim is not None:
            assert isinstance(deps.dcim.records, InMemoryDcimRecords)
            deps.dcim.records.facts_of.clear()
        phase = DcimSyncPhase(deps)
        done = await sync_once(phase)
        assert "skipped" in done.output
