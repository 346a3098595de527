"""An order's PTR on the real PowerDNS server: published when it goes active, gone after the
service is terminated through the API (`rdns_backend=powerdns`, both databases).

The installation's subnet is moved to a random /28 in 10/8 so parallel tests (the other
database, other xdist workers) never share a PTR; what is checked is what the server
answers over DNS (dnspython, `fcrdns.check`), not only the API's 2xx.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.network import fcrdns, ipam, powerdns
from tests.integration import pdnspeer
from tests.integration.support import active_service, request_action, service_of, settle

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def server() -> pdnspeer.PowerDns:
    return pdnspeer.running()


@pytest.fixture
async def block(server: pdnspeer.PowerDns, block6: list[IPv6Network]) -> AsyncIterator[IPv4Network]:
    """A /28 of this test's own (and IPv6 pools), their reverse zones deleted afterwards."""
    owned = IPv4Network(f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/28")
    yield owned
    cleanup = powerdns.powerdns_http(
        server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"]
    )
    try:
        zone = ".".join(reversed(str(owned.network_address).split(".")[:3])) + ".in-addr.arpa."
        for name in (zone, *(ipam.reverse_zone_for(n) for n in block6)):
            await cleanup.request(
                "DELETE",
                f"servers/localhost/zones/{powerdns.api_zone_id(name)}",
                operation="delete zone",
                expected=frozenset({204, 404, 422}),
            )
    finally:
        await cleanup.aclose()


@pytest.fixture
def block6() -> list[IPv6Network]:
    """An IPv6 /64 address pool and a /56 of routed /64s, of this test's own (ULA)."""
    base = f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(1)}"
    return [IPv6Network(f"{base}01::/64"), IPv6Network(f"{base}00::/56")]


@pytest.fixture
def settings_overrides(
    server: pdnspeer.PowerDns, block: IPv4Network, block6: list[IPv6Network]
) -> dict[str, Any]:
    return {
        "rdns_backend": "powerdns",
        "rdns_powerdns_api_url": server.api_url,
        "rdns_powerdns_api_key": server.api_key,
        "rdns_powerdns_networks": ",".join(
            [str(block.supernet(new_prefix=24)), *(str(n) for n in block6)]
        ),
        "rdns_powerdns_allowed_networks": "127.0.0.0/8",
    }


async def move_subnet(conn: AsyncConnection, block: IPv4Network) -> None:
    """The installation's subnet becomes this test's own /28."""
    await conn.execute(
        schema.subnets.update().values(
            cidr=str(block),
            gateway=str(block.network_address + 1),
            dns_servers=[str(block.network_address + 14)],
        )
    )


async def test_terminate_through_the_api_removes_the_ptr_from_powerdns(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    server: pdnspeer.PowerDns,
    block: IPv4Network,
) -> None:
    assert isinstance(installation.rdns, powerdns.PowerDnsRdns)
    async with installation.db.begin() as conn:
        await move_subnet(conn, block)
    host = f"ptr-{secrets.token_hex(4)}.example.net"
    service = await active_service(installation, host)
    address = service.service_data["network"]["address"]
    assert address in {str(a) for a in block.hosts()}

    published = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
    assert published.ptr == (host + ".",), published.reason

    answer = await request_action(api, service.id, "terminate")
    assert answer.status_code in (200, 201, 202), answer.text
    done = await settle(installation, api, answer.json()["id"])
    assert done["state"] == "completed", done
    assert (await service_of(installation, service.order_id)).status == "terminated"

    gone = await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)
    assert gone.ptr == () and not gone.confirmed, gone


async def test_every_lease_gets_its_ptr_and_terminate_removes_them_all(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    server: pdnspeer.PowerDns,
    block: IPv4Network,
    block6: list[IPv6Network],
) -> None:
    addresses6, routed6 = block6
    async with installation.db.begin() as conn:
        await move_subnet(conn, block)
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
    host = f"dual-{secrets.token_hex(4)}.example.net"
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
