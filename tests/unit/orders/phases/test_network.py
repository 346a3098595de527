from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.orders.phases.deps import DcimDeps
from fluxbilling.orders.phases.network import NetworkPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, InMemoryDcim, InMemoryDcimRecords, phase_context
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
    assert out.output["firewall"] == {"enforced_by": None, "sha256": None}, "os_install set none"
    assert out.output["dcim"] == {
        "service_id": str(SERVICE_ID),
        "location_code": "AMS1",
        "host_name": "hv-ams1-01",
        "address": "192.0.2.10",
        "hostname": "web1.example.net",
        "interface": f"svc-{SERVICE_ID}",
        "host_id": 21,
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
    assert rig.store.interfaces[SERVICE_ID] == {
        "host_id": 21,
        "interface": f"svc-{SERVICE_ID}",
        "address": "192.0.2.10",
        "dns_name": "web1.example.net",
    }
    assert rig.store.follow_ups == {}, "no inventory system: no sync run"
    assert rig.store.events(ORDER_ID) == [
        "address_assigned",
        "rdns_published",
        "rdns_confirmed",
        "firewall_not_applied",
        "dcim_recorded",
    ]
    confirmed = next(a for a in rig.store.activity if a.event == "rdns_confirmed")
    assert (
        confirmed.message == "in-memory:53 answered 192.0.2.10 -> web1.example.net. -> 192.0.2.10"
    )


async def test_the_firewall_os_install_delivered_is_reported_with_its_hash() -> None:
    applied = {"enforced_by": "cloud-init", "sha256": "ab" * 32}
    rig = Rig(view=order_view(service_status="installed", service_data={"firewall": applied}))
    phase = NetworkPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    assert done.output["firewall"] == applied
    await phase.commit(NO_CONNECTION, CTX, done)
    [step] = [a for a in rig.store.activity if a.event == "firewall_applied"]
    assert step.message == f"firewall baseline applied by cloud-init (sha256 {'ab' * 32})"
    assert step.data == applied
    assert rig.service["service_data"]["network"]["firewall"] == applied


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


async def test_the_host_gets_its_a_record_and_the_phase_asks_the_server() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    out = await NetworkPhase(rig.deps).execute(CTX)
    assert isinstance(out, Done)
    assert rig.rdns.forward == {("web1.example.net", "A"): "192.0.2.10"}
    assert out.output["forward"] == {
        "zone": "example.net.",
        "name": "web1.example.net.",
        "type": "A",
        "content": "192.0.2.10",
    }
    assert rig.rdns.confirms == [("192.0.2.10", "web1.example.net")]
    assert out.output["confirmed"]["confirmed"] is True
    assert out.output["confirmed"]["addresses"] == ["192.0.2.10"]


async def test_not_yet_served_records_keep_the_phase_pending_without_writing_again() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    rig.rdns.lag = 1
    phase = NetworkPhase(rig.deps)
    first = await phase.execute(CTX)
    assert isinstance(first, Pending)
    assert first.check_after.total_seconds() <= 5
    assert first.note == (
        "rDNS not confirmed yet: expected PTR 192.0.2.10 -> web1.example.net and "
        "web1.example.net A 192.0.2.10; in-memory:53 answered: no PTR for 192.0.2.10 (NXDOMAIN)"
    )
    rig.rdns.records.clear()  # a second publication would put it back: there is none
    rig.rdns.records["192.0.2.10"] = "web1.example.net"
    rig.rdns.failures.append(errors.PermanentUpstreamError("no writes expected"))
    again = await phase.execute(phase_context(ORDER_ID, Phase.NETWORK, cursor=first.cursor))
    assert isinstance(again, Done)
    assert again.output["confirmed"]["server"] == "in-memory:53"
    assert len(rig.rdns.failures) == 1, "the check wrote nothing"


async def test_a_server_answering_another_address_is_named_in_the_note() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    rig.rdns.served[("web1.example.net", "A")] = "192.0.2.99"
    out = await NetworkPhase(rig.deps).execute(CTX)
    assert isinstance(out, Pending)
    assert out.note.endswith("answered: web1.example.net. A is 192.0.2.99, not 192.0.2.10")
    assert out.cursor["verdict"]["addresses"] == ["192.0.2.99"]


async def test_with_an_inventory_system_the_commit_queues_one_dcim_sync_run() -> None:
    rig = Rig(
        view=order_view(service_status="installed"),
        dcim=DcimDeps(InMemoryDcim(), InMemoryDcimRecords()),
    )
    phase = NetworkPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    await phase.commit(NO_CONNECTION, CTX, done)
    await phase.commit(NO_CONNECTION, CTX, done)  # the same attempt's commit, again
    assert list(rig.store.follow_ups.values()) == [(ORDER_ID, "dcim_sync", "dcim_sync")]
    assert rig.store.events(ORDER_ID).count("dcim_sync_queued") == 1
    events = rig.store.events(ORDER_ID)
    assert events.index("dcim_sync_queued") == events.index("dcim_recorded") + 1
