from __future__ import annotations

import pytest

from fluxbilling.engine.outcome import Done
from fluxbilling.orders.phases.network import NetworkPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig, order_view

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.NETWORK)


async def test_a_vps_on_our_address_gets_a_ptr_a_firewall_baseline_and_a_dcim_record() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    out = await NetworkPhase(rig.deps).execute(CTX)
    assert rig.rdns.records == {"192.0.2.10": "web1.example.net"}
    assert isinstance(out, Done)
    assert out.output["address"] == "192.0.2.10"
    assert out.output["source"] == "ipam"
    assert out.output["ptr"] == {
        "zone": "2.0.192.in-addr.arpa",
        "name": "10.2.0.192.in-addr.arpa",
        "content": "web1.example.net",
    }
    assert out.output["firewall"], "a baseline has rules"
    assert out.output["dcim"] == {
        "service_id": str(SERVICE_ID),
        "location_code": "AMS1",
        "host_name": "hv-ams1-01",
        "address": "192.0.2.10",
        "hostname": "web1.example.net",
    }
    assert rig.driver.calls == []


async def test_commit_assigns_the_address_and_records_each_step() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    phase = NetworkPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    await phase.commit(NO_CONNECTION, CTX, done)
    address = rig.store.views[ORDER_ID].address
    assert (address["state"], address["service_id"]) == ("leased", SERVICE_ID)
    assert address["assigned_at"] is not None
    assert rig.service["service_data"]["network"]["address"] == "192.0.2.10"
    assert rig.store.events(ORDER_ID) == [
        "address_assigned",
        "rdns_published",
        "firewall_applied",
        "dcim_recorded",
    ]


async def test_shared_hosting_records_the_providers_address_without_a_ptr() -> None:
    view = order_view(service_type="shared", ours=False, service_data={"ip": "198.51.100.7"})
    rig = Rig(view=view)
    phase = NetworkPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    assert (done.output["source"], done.output["ptr"]) == ("provider", None)
    assert rig.rdns.records == {}
    await phase.commit(NO_CONNECTION, CTX, done)
    assert rig.store.views[ORDER_ID].address == {}
    assert rig.store.events(ORDER_ID) == ["address_recorded", "rdns_skipped", "dcim_recorded"]


async def test_no_address_at_all_is_recorded_as_unknown() -> None:
    rig = Rig(view=order_view(service_type="game", ours=False))
    phase = NetworkPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    assert (done.output["address"], done.output["dcim"]) == (None, None)
    await phase.commit(NO_CONNECTION, CTX, done)
    assert [(a.event, a.message) for a in rig.store.activity] == [
        ("address_unknown", "the provider reported no address for the service")
    ]
