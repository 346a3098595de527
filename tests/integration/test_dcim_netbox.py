"""The DCIM sync against the real NetBox (PyPI's `netbox`, started by scripts/peers/netbox),
on both databases: after an order goes active and its `dcim_sync` run ran, NetBox shows the
host's device, the service's interface and its address with the DNS name; an edit made in
NetBox is reported as drift and not overwritten. Calls go through a stored `netbox`
connection (the upstream boundary and its address policy), as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.drivers.connections import create_connection
from tests.integration import netboxpeer
from tests.integration.support import drain, finish, place_and_pay, rows, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SUBNET = "192.0.2.0/28"
"""The `installation` fixture's subnet: the addresses its orders get."""


@pytest.fixture
def peer() -> netboxpeer.NetBox:
    """The running NetBox (waited for, bounded)."""
    return netboxpeer.running()


@pytest.fixture
def netbox(peer: netboxpeer.NetBox) -> Iterator[httpx.Client]:
    """NetBox's API, held by this test, without what an earlier test left of the demo's objects."""
    headers = {"Authorization": f"Bearer {peer.token}", "Accept": "application/json"}
    with netboxpeer.lock(), httpx.Client(base_url=peer.api_url, headers=headers) as client:
        for ip in client.get("ipam/ip-addresses/", params={"parent": SUBNET}).json()["results"]:
            assert client.delete(f"ipam/ip-addresses/{ip['id']}/").status_code == 204
        found = client.get("dcim/devices/", params={"name__isw": "kvm-ams1-"}).json()
        for device in found["results"]:
            assert client.delete(f"dcim/devices/{device['id']}/").status_code == 204
        yield client


@pytest.fixture
def settings_overrides(netbox: httpx.Client) -> dict[str, Any]:
    return {"dcim_netbox_connection": "netbox"}


async def connect(inst: bootstrap.Installation, peer: netboxpeer.NetBox) -> None:
    """Store the `netbox` connection, allowed to reach loopback (an admin's allowance)."""
    async with inst.db.begin() as conn:
        await create_connection(
            conn,
            inst.vault,
            name="netbox",
            type="netbox",
            base_url=peer.api_url,
            secrets={"api_token": peer.token},
            allowed_networks=["127.0.0.1/32"],
        )


def one(netbox: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    found = netbox.get(path, params=params).json()
    assert found["count"] == 1, found
    result: dict[str, Any] = found["results"][0]
    return result


async def test_an_active_service_appears_in_netbox_and_an_edit_there_is_drift(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    netbox: httpx.Client,
    peer: netboxpeer.NetBox,
) -> None:
    await connect(installation, peer)
    order_id = await place_and_pay(installation, "nb1.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    await drain(installation)
    service = await service_of(installation, order_id)
    (run,) = await rows(
        installation,
        sa.select(schema.runs).where(
            schema.runs.c.order_id == order_id, schema.runs.c.kind == "dcim_sync"
        ),
    )
    assert run.state == "completed", run.last_error
    (host,) = await rows(
        installation, sa.select(schema.hosts).where(schema.hosts.c.id == service.host_id)
    )
    address = service.service_data["network"]["address"]

    device = one(netbox, "dcim/devices/", name=host.name)
    assert device["site"]["slug"] == "ams1" and device["status"]["value"] == "active"
    interface = one(netbox, "dcim/interfaces/", device_id=device["id"], name=f"svc-{service.id}")
    assert interface["type"]["value"] == "virtual"
    ip = one(netbox, "ipam/ip-addresses/", address=address)
    assert ip["address"] == f"{address}/32"
    assert ip["dns_name"] == "nb1.example.com"
    assert (ip["assigned_object_type"], ip["assigned_object_id"]) == (
        "dcim.interface",
        interface["id"],
    )

    edited = netbox.patch(
        f"ipam/ip-addresses/{ip['id']}/", json={"dns_name": "by-hand.example.com"}
    )
    assert edited.status_code == 200, edited.text
    assert (await api.post(f"/api/v1/dcim/services/{service.id}/sync")).status_code == 202
    await drain(installation)

    assert one(netbox, "ipam/ip-addresses/", address=address)["dns_name"] == "by-hand.example.com"
    (drift,) = (await api.get("/api/v1/dcim/drift")).json()["items"]
    assert (drift["kind"], drift["field"], drift["ours"], drift["theirs"], drift["remote_id"]) == (
        "ip_address",
        "dns_name",
        "nb1.example.com",
        "by-hand.example.com",
        ip["id"],
    )
