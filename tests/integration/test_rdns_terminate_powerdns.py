"""An order's PTR on the real PowerDNS server (`rdns_backend=powerdns`, both databases): the
network phase waits until PowerDNS answers the PTR and the host's A as published, and both
are gone after the service is terminated through the API.

The installation's subnet is moved to a random /28 in 10/8 so parallel tests (the other
database, other xdist workers) never share a PTR; what is checked is what the server
answers over DNS (dnspython, `fcrdns.check`), not only the API's 2xx. Each test has its own
forward zone.

To make PowerDNS answer something else at first, a test creates a zone for the host name
itself before the order: PowerDNS answers the host's A from that (more specific) zone, where
it has none, whatever the forward zone holds, as a stale delegation would. Once the test
deletes that zone, PowerDNS answers the A the phase published, and the next check completes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import dns.asyncquery
import dns.message
import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.db import schema
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.network import fcrdns, ipam, powerdns
from fluxbilling.orders import detail
from tests.integration import pdnspeer
from tests.integration.support import (
    active_service,
    activity,
    drain,
    make_due,
    place_and_pay,
    request_action,
    run_of,
    service_of,
    settle,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def server() -> pdnspeer.PowerDns:
    return pdnspeer.running()


@pytest.fixture
async def pdns_api(server: pdnspeer.PowerDns) -> AsyncIterator[UpstreamHttp]:
    client = powerdns.powerdns_http(
        server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"]
    )
    yield client
    await client.aclose()


@pytest.fixture
def forward_zone() -> str:
    return f"fc-{secrets.token_hex(4)}.example.net."


@pytest.fixture
async def block(
    pdns_api: UpstreamHttp, forward_zone: str, block6: list[IPv6Network]
) -> AsyncIterator[IPv4Network]:
    """A /28 of this test's own (and IPv6 pools); their reverse zones and the forward zones
    deleted afterwards."""
    owned = IPv4Network(f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/28")
    yield owned
    reverse = ".".join(reversed(str(owned.network_address).split(".")[:3])) + ".in-addr.arpa."
    reverse6 = [ipam.reverse_zone_for(n) for n in block6]
    for zone in (reverse, *reverse6, forward_zone, "vps." + forward_zone):
        await delete_zone(pdns_api, zone)


@pytest.fixture
def block6() -> list[IPv6Network]:
    """An IPv6 /64 address pool and a /56 of routed /64s, of this test's own (ULA)."""
    base = f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(1)}"
    return [IPv6Network(f"{base}01::/64"), IPv6Network(f"{base}00::/56")]


async def delete_zone(api: UpstreamHttp, zone: str) -> None:
    """Delete `zone`; PowerDNS's SQLite backend answers 500 while another test writes."""
    for _ in range(20):
        try:
            await api.request(
                "DELETE",
                f"servers/localhost/zones/{powerdns.api_zone_id(zone)}",
                operation="delete zone",
                expected=frozenset({204, 404, 422}),
            )
            return
        except errors.TransientUpstreamError:
            await asyncio.sleep(0.25)
    raise AssertionError(f"PowerDNS kept failing to delete {zone}")


async def move_subnet(installation: bootstrap.Installation, block: IPv4Network) -> None:
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.subnets.update().values(
                cidr=str(block),
                gateway=str(block.network_address + 1),
                dns_servers=[str(block.network_address + 14)],
            )
        )


@pytest.fixture
def settings_overrides(
    server: pdnspeer.PowerDns, block: IPv4Network, block6: list[IPv6Network], forward_zone: str
) -> dict[str, Any]:
    return {
        "rdns_backend": "powerdns",
        "rdns_powerdns_api_url": server.api_url,
        "rdns_powerdns_api_key": server.api_key,
        "rdns_powerdns_networks": ",".join(
            [str(block.supernet(new_prefix=24)), *(str(n) for n in block6)]
        ),
        "rdns_powerdns_allowed_networks": "127.0.0.0/8",
        "rdns_nameserver": f"{server.dns_host}:{server.dns_port}",
        "rdns_forward_zone": forward_zone,
    }


async def test_terminate_through_the_api_removes_the_ptr_from_powerdns(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    server: pdnspeer.PowerDns,
    block: IPv4Network,
    forward_zone: str,
) -> None:
    assert isinstance(installation.rdns, powerdns.PowerDnsRdns)
    await move_subnet(installation, block)
    host = f"ptr-{secrets.token_hex(4)}.{forward_zone.rstrip('.')}"
    service = await active_service(installation, host)
    address = service.service_data["network"]["address"]
    assert address in {str(a) for a in block.hosts()}

    published = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
    assert published.confirmed, published.reason  # the PTR and the host's A, as served

    answer = await request_action(api, service.id, "terminate")
    assert answer.status_code in (200, 201, 202), answer.text
    done = await settle(installation, api, answer.json()["id"])
    assert done["state"] == "completed", done
    assert (await service_of(installation, service.order_id)).status == "terminated"

    gone = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
    assert gone.ptr == () and not gone.confirmed, gone
    query = dns.message.make_query(host, "A")
    answer_a = await dns.asyncquery.udp(query, server.dns_host, port=server.dns_port, timeout=2)
    assert answer_a.answer == [], "the host's A record went with the PTR"


async def test_the_phase_waits_until_powerdns_answers_the_a_then_completes(
    installation: bootstrap.Installation,
    server: pdnspeer.PowerDns,
    pdns_api: UpstreamHttp,
    block: IPv4Network,
    forward_zone: str,
) -> None:
    host = "vps." + forward_zone
    await move_subnet(installation, block)
    await pdns_api.request(  # the shadowing zone: PowerDNS answers the host's A from here
        "POST",
        "servers/localhost/zones",
        json_body={"name": host, "kind": "Native", "nameservers": ["ns1.fluxbilling.invalid."]},
        operation="create zone",
        expected=frozenset({201}),
    )
    order_id = await place_and_pay(installation, host.rstrip("."))
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.phase, run.state) == ("network", "queued")
    dns_at = f"{server.dns_host}:{server.dns_port}"
    assert run.wait_reason.endswith(f"{dns_at} answered: no A for {host} (NOERROR)")

    await delete_zone(pdns_api, host)
    await make_due(installation, order_id)
    await drain(installation)
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    address = order.phases[1].output["address"]
    confirmed = [e for e in await activity(installation, order_id) if e.event == "rdns_confirmed"]
    assert [e.message for e in confirmed] == [f"{dns_at} answered {address} -> {host} -> {address}"]


async def test_every_lease_gets_its_ptr_and_terminate_removes_them_all(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    server: pdnspeer.PowerDns,
    block: IPv4Network,
    block6: list[IPv6Network],
    forward_zone: str,
) -> None:
    addresses6, routed6 = block6
    await move_subnet(installation, block)
    async with installation.db.begin() as conn:
        location = (await conn.execute(sa.select(schema.locations.c.id))).scalar_one()
        for network, columns in (
            (addresses6, {}),
            (routed6, {"kind": "routed", "lease_prefix_len": 64}),
        ):
            await conn.execute(
                schema.subnets.insert().values(
                    location_id=location,
                    cidr=str(network),
                    family=6,
                    gateway=str(addresses6.network_address + 1),
                    dns_servers=[],
                    reverse_zone=ipam.reverse_zone_for(network).rstrip("."),
                    **columns,
                )
            )
        await conn.execute(schema.products.update().values(ipv6_address=True, ipv6_routed=True))
    host = f"dual-{secrets.token_hex(4)}.{forward_zone.rstrip('.')}"
    service = await active_service(installation, host)
    network = service.service_data["network"]
    published = [ptr["address"] for ptr in network["ptrs"]]
    assert [ip_address(a).version for a in published] == [4, 6, 6]
    assert ip_address(published[1]) in addresses6
    routed_address = ip_address(published[2])
    assert routed_address in routed6 and int(routed_address) % 2**64 == 1  # the /64's ::1
    for address in published:
        found = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
        assert found.ptr == (host + ".",), (address, found.reason)
    async with installation.db.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(schema.ip_addresses.c.ptr_content).where(
                    schema.ip_addresses.c.order_id == service.order_id
                )
            )
        ).scalars()
        assert list(stored) == [host] * 3

    answer = await request_action(api, service.id, "terminate")
    assert answer.status_code in (200, 201, 202), answer.text
    done = await settle(installation, api, answer.json()["id"])
    assert done["state"] == "completed", done
    for address in published:
        gone = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
        assert gone.ptr == (), (address, gone)
    async with installation.db.connect() as conn:
        cooling = (
            await conn.execute(
                sa.select(schema.ip_addresses.c.state, schema.ip_addresses.c.ptr_name).where(
                    schema.ip_addresses.c.last_order_id == service.order_id
                )
            )
        ).all()
    assert [tuple(r) for r in cooling] == [("cooling", None)] * 3
