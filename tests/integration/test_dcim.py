"""DCIM on both databases: racks, ports and cables through the API; each active service's
interface and address recorded by the network phase and synced by its own `dcim_sync` run to
an inventory system (the in-memory fake here; the real NetBox in `test_dcim_netbox.py`);
drift reported, never overwritten; an inventory outage never holds up an order.

The `installation` fixture seeds location `ams1` with hosts `kvm-ams1-01..03` and subnet
`192.0.2.0/28`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.db import schema
from fluxbilling.network.dcim_drift import Kind
from fluxbilling.testing import InMemoryDcim
from tests.integration.support import activity, drain, finish, place_and_pay, rows, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def dcim_sync() -> InMemoryDcim:
    return InMemoryDcim()


async def put_hosts_in_a_rack(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/racks", json={"name": "ams1-r01", "location": "ams1"})
    assert created.status_code == 201, created.text
    hosts = (await api.get("/api/v1/hosts")).json()["items"]
    for position, host in enumerate(hosts, start=1):
        moved = await api.patch(
            f"/api/v1/hosts/{host['id']}", json={"rack": "ams1-r01", "rack_position": position * 2}
        )
        assert moved.status_code == 200, moved.text


async def dcim_runs(inst: bootstrap.Installation, order_id: int) -> list[Any]:
    runs = schema.runs
    return await rows(
        inst,
        sa.select(runs)
        .where(runs.c.order_id == order_id, runs.c.kind == "dcim_sync")
        .order_by(runs.c.id),
    )


async def active_order(inst: bootstrap.Installation, hostname: str) -> tuple[int, Any]:
    order_id = await place_and_pay(inst, hostname)
    run = await finish(inst, order_id)
    assert run.state == "completed", run.last_error
    return order_id, await service_of(inst, order_id)


async def test_an_active_service_is_recorded_and_synced_by_its_own_run(
    installation: bootstrap.Installation, api: httpx.AsyncClient, dcim_sync: InMemoryDcim
) -> None:
    await put_hosts_in_a_rack(api)
    order_id, service = await active_order(installation, "web1.example.com")
    await drain(installation)

    record = (await api.get(f"/api/v1/dcim/services/{service.id}")).json()
    address = service.service_data["network"]["address"]
    assert (record["interface"], record["address"], record["dns_name"]) == (
        f"svc-{service.id}",
        address,
        "web1.example.com",
    )
    (run,) = await dcim_runs(installation, order_id)
    assert run.state == "completed"
    events = [row.event for row in await activity(installation, order_id)]
    assert events.index("dcim_sync_queued") == events.index("dcim_recorded") + 1
    assert "dcim_synced" in events

    host = (
        await rows(
            installation, sa.select(schema.hosts).where(schema.hosts.c.id == service.host_id)
        )
    )[0]
    site = dcim_sync.find_by(Kind.SITE, slug="ams1")
    rack = dcim_sync.find_by(Kind.RACK, name="ams1-r01")
    device = dcim_sync.find_by(Kind.DEVICE, name=host.name)
    ip = dcim_sync.find_by(Kind.IP_ADDRESS, address=address)
    assert site is not None and site["values"] == {"name": "Amsterdam 1"}
    assert rack is not None and rack["values"] == {"u_height": 42}
    assert device is not None and device["values"]["position"] == host.rack_position
    assert ip is not None and ip["values"]["dns_name"] == "web1.example.com"
    pushed = await rows(installation, sa.select(schema.dcim_pushed))
    assert {row.kind for row in pushed} == {k.value for k in Kind}

    calls = len(dcim_sync.calls)
    resync = await api.post(f"/api/v1/dcim/services/{service.id}/sync")
    assert resync.status_code == 202, resync.text
    await drain(installation)
    assert {verb for verb, _ in dcim_sync.calls[calls:]} == {"find"}, "nothing to write"


async def test_an_edit_in_the_inventory_is_drift_reported_and_left_alone(
    installation: bootstrap.Installation, api: httpx.AsyncClient, dcim_sync: InMemoryDcim
) -> None:
    order_id, service = await active_order(installation, "web2.example.com")
    address = service.service_data["network"]["address"]
    ip = dcim_sync.find_by(Kind.IP_ADDRESS, address=address)
    assert ip is not None
    ip_id = next(i for i, o in dcim_sync.objects[Kind.IP_ADDRESS].items() if o is ip)
    dcim_sync.edit(Kind.IP_ADDRESS, ip_id, dns_name="by-hand.example.com")

    for _ in range(2):  # reported once, however often it is synced
        assert (await api.post(f"/api/v1/dcim/services/{service.id}/sync")).status_code == 202
        await drain(installation)
    assert ip["values"]["dns_name"] == "by-hand.example.com", "never overwritten"
    (drift,) = (await api.get("/api/v1/dcim/drift")).json()["items"]
    assert {k: drift[k] for k in ("kind", "key", "field", "ours", "theirs", "pushed")} == {
        "kind": "ip_address",
        "key": f"service:{service.id}:address",
        "field": "dns_name",
        "ours": "web2.example.com",
        "theirs": "by-hand.example.com",
        "pushed": "web2.example.com",
    }
    assert (drift["service_id"], drift["remote_id"], drift["resolved_at"]) == (
        service.id,
        ip_id,
        None,
    )
    reported = [r for r in await activity(installation, order_id) if r.event == "dcim_drift"]
    assert len(reported) == 1 and "by-hand.example.com" in reported[0].message

    dcim_sync.edit(Kind.IP_ADDRESS, ip_id, dns_name="web2.example.com")  # settled there
    assert (await api.post(f"/api/v1/dcim/services/{service.id}/sync")).status_code == 202
    await drain(installation)
    assert (await api.get("/api/v1/dcim/drift")).json()["items"] == []
    (ended,) = (await api.get("/api/v1/dcim/drift?include_resolved=true")).json()["items"]
    assert ended["resolved_at"] is not None


async def test_an_inventory_outage_never_holds_up_the_order(
    installation: bootstrap.Installation, dcim_sync: InMemoryDcim
) -> None:
    dcim_sync.fail_with(
        errors.TransientUpstreamError("netbox: 503", upstream="netbox", operation="find site")
    )
    order_id, service = await active_order(installation, "web3.example.com")
    assert service.status == "active"
    (run,) = await dcim_runs(installation, order_id)
    assert run.state == "queued" and run.attempt >= 1
    assert "503" in str(run.last_error)

    dcim_sync.fail_with(None)
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.runs.update()
            .where(schema.runs.c.id == run.id)
            .values(next_run_at=installation.db.now(-1))
        )
    await drain(installation)
    (run,) = await dcim_runs(installation, order_id)
    assert run.state == "completed"
    assert dcim_sync.find_by(Kind.IP_ADDRESS, address=service.service_data["network"]["address"])


async def test_racks_ports_and_cables_are_checked(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    assert (
        await api.post("/api/v1/racks", json={"name": "r1", "location": "ams1"})
    ).status_code == 201
    too_tall = await api.post(
        "/api/v1/racks", json={"name": "r2", "location": "ams1", "units": 101}
    )
    assert too_tall.status_code == 422
    nowhere = await api.post("/api/v1/racks", json={"name": "r3", "location": "nowhere"})
    assert nowhere.status_code == 422 and "location" in nowhere.text
    (host, *_) = (await api.get("/api/v1/hosts")).json()["items"]
    beyond = await api.patch(
        f"/api/v1/hosts/{host['id']}", json={"rack": "r1", "rack_position": 43}
    )
    assert beyond.status_code == 422 and "42 units" in beyond.text

    name = host["name"]
    port = {"port": f"{name}/eth0", "host": name, "kind": "1000base-t", "mac": "52-54-00-AA-BB-CC"}
    created = await api.post("/api/v1/ports", json=port)
    assert created.status_code == 201, created.text
    assert created.json()["mac"] == "52:54:00:aa:bb:cc"
    wrong_owner = await api.post("/api/v1/ports", json={**port, "port": "other/eth0"})
    assert wrong_owner.status_code == 422 and "port" in wrong_owner.text
    both = await api.post("/api/v1/ports", json={**port, "port": "sw1/1", "device": "sw1"})
    assert both.status_code == 422 and "exactly one owner" in both.text
    switch = {"port": "sw1/ge-0/0/1", "device": "sw1", "kind": "1000base-t"}
    assert (await api.post("/api/v1/ports", json=switch)).status_code == 201
    assert (
        await api.post("/api/v1/ports", json={**switch, "port": "sw1/ge-0/0/2"})
    ).status_code == 201

    cable = {"label": "c1", "a": f"{name}/eth0", "b": "sw1/ge-0/0/1"}
    made = await api.post("/api/v1/cables", json=cable)
    assert made.status_code == 201, made.text
    again = await api.post(
        "/api/v1/cables", json={"label": "c2", "a": "sw1/ge-0/0/2", "b": "sw1/ge-0/0/1"}
    )
    assert again.status_code == 422 and "is in cable c1" in again.text
    to_itself = await api.post(
        "/api/v1/cables", json={"label": "c3", "a": "sw1/ge-0/0/2", "b": "sw1/ge-0/0/2"}
    )
    assert to_itself.status_code == 422

    port_id = created.json()["id"]
    in_use = await api.delete(f"/api/v1/ports/{port_id}")
    assert in_use.status_code == 409 and "cable" in in_use.text
    host_in_use = await api.delete(f"/api/v1/hosts/{host['id']}")
    assert host_in_use.status_code == 409 and "port" in host_in_use.text
    assert (await api.delete(f"/api/v1/cables/{made.json()['id']}")).status_code == 204
    assert (await api.delete(f"/api/v1/ports/{port_id}")).status_code == 204


async def test_without_an_inventory_system_a_resync_is_refused(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    installation.dcim = None
    refused = await api.post("/api/v1/dcim/services/1/sync")
    assert refused.status_code == 409 and "inventory system" in refused.text
    assert (await api.get("/api/v1/dcim/services/999")).status_code == 404
