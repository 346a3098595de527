"""Tests for `fluxbilling.network.dcim_sync` against the in-memory inventory system."""

from __future__ import annotations

import dataclasses

import pytest

from fluxbilling import errors
from fluxbilling.network import dcim_sync
from fluxbilling.network.dcim_drift import Kind
from fluxbilling.network.dcim_sync import Facts, Pushed
from fluxbilling.testing import InMemoryDcim

pytestmark = pytest.mark.anyio

FACTS = Facts(
    service_id=7,
    site_code="AMS1",
    site_name="Amsterdam 1",
    host_name="kvm-ams1-01",
    interface="svc-7",
    address="192.0.2.7",
    dns_name="vps7.example.com",
    rack_name="ams1-r01",
    rack_units=42,
    rack_position=10,
)


def remembered(result: dcim_sync.SyncResult) -> dict[tuple[str, str], Pushed]:
    return {(p.kind.value, p.key): p for p in result.pushed}


def test_the_objects_hang_under_their_parents() -> None:
    wanted = {w.key: w for w in dcim_sync.objects(FACTS)}
    assert list(wanted) == [
        "site:AMS1",
        "rack:AMS1/ams1-r01",
        "host:kvm-ams1-01",
        "service:7:interface",
        "service:7:address",
    ]
    assert wanted["host:kvm-ams1-01"].parents == {"site": "site:AMS1", "rack": "rack:AMS1/ams1-r01"}
    assert wanted["host:kvm-ams1-01"].values == {"status": "active", "position": 10}
    assert wanted["service:7:address"].values["dns_name"] == "vps7.example.com"


async def test_a_first_sync_creates_everything_and_a_second_writes_nothing() -> None:
    netbox = InMemoryDcim()
    first = await dcim_sync.sync(netbox, FACTS, {})
    assert len(first.created) == 5 and first.drift == ()
    ip = netbox.find_by(Kind.IP_ADDRESS, address="192.0.2.7")
    assert ip is not None and ip["values"]["dns_name"] == "vps7.example.com"
    interface = netbox.find_by(Kind.INTERFACE, name="svc-7")
    assert interface is not None and ip["refs"] == {"interface": first.pushed[3].remote_id}

    calls = len(netbox.calls)
    second = await dcim_sync.sync(netbox, FACTS, remembered(first))
    assert (second.created, second.updated, second.drift) == ((), (), ())
    assert {verb for verb, _ in netbox.calls[calls:]} == {"find"}


async def test_a_retry_after_a_lost_answer_finds_what_the_first_attempt_made() -> None:
    netbox = InMemoryDcim()
    await dcim_sync.sync(netbox, FACTS, {})  # its answer "lost": nothing remembered
    again = await dcim_sync.sync(netbox, FACTS, {})
    assert again.created == () and again.drift == ()
    assert len(netbox.objects[Kind.DEVICE]) == 1


async def test_an_edit_in_the_inventory_is_reported_not_overwritten() -> None:
    netbox = InMemoryDcim()
    first = await dcim_sync.sync(netbox, FACTS, {})
    ip_id = remembered(first)[("ip_address", "service:7:address")].remote_id
    netbox.edit(Kind.IP_ADDRESS, ip_id, dns_name="by-hand.example.com")

    again = await dcim_sync.sync(netbox, FACTS, remembered(first))
    (drift,) = again.drift
    assert (drift.kind, drift.key, drift.field) == (
        Kind.IP_ADDRESS,
        "service:7:address",
        "dns_name",
    )
    assert (drift.ours, drift.theirs, drift.pushed) == (
        "vps7.example.com",
        "by-hand.example.com",
        "vps7.example.com",
    )
    assert netbox.objects[Kind.IP_ADDRESS][ip_id]["values"]["dns_name"] == "by-hand.example.com"
    assert "drifted" in again.summary()


async def test_our_change_is_pushed() -> None:
    netbox = InMemoryDcim()
    first = await dcim_sync.sync(netbox, FACTS, {})
    moved = dataclasses.replace(FACTS, rack_position=20)
    again = await dcim_sync.sync(netbox, moved, remembered(first))
    assert again.updated == ("host:kvm-ams1-01",) and again.drift == ()
    device = netbox.find_by(Kind.DEVICE, name="kvm-ams1-01")
    assert device is not None and device["values"]["position"] == 20


async def test_an_outage_raises_the_upstream_error() -> None:
    netbox = InMemoryDcim()
    netbox.fail_with(errors.TransientUpstreamError("down", upstream="netbox", operation="find"))
    with pytest.raises(errors.TransientUpstreamError):
        await dcim_sync.sync(netbox, FACTS, {})
