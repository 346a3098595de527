"""An order's PTR on the real PowerDNS server: published when it goes active, gone after the
service is terminated through the API (`rdns_backend=powerdns`, both databases).

The installation's subnet is moved to a random /28 in 10/8 so parallel tests (the other
database, other xdist workers) never share a PTR; what is checked is what the server
answers over DNS (dnspython, `fcrdns.check`), not only the API's 2xx.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from ipaddress import IPv4Network
from typing import Any

import dns.asyncquery
import dns.message
import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.network import fcrdns, powerdns
from tests.integration import pdnspeer
from tests.integration.support import active_service, request_action, service_of, settle

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def server() -> pdnspeer.PowerDns:
    return pdnspeer.running()


@pytest.fixture
async def block(server: pdnspeer.PowerDns) -> AsyncIterator[IPv4Network]:
    """A /28 of this test's own, and its reverse zone deleted afterwards."""
    owned = IPv4Network(f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/28")
    yield owned
    cleanup = powerdns.powerdns_http(
        server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"]
    )
    try:
        zone = ".".join(reversed(str(owned.network_address).split(".")[:3])) + ".in-addr.arpa."
        await cleanup.request(
            "DELETE",
            f"servers/localhost/zones/{powerdns.api_zone_id(zone)}",
            operation="delete zone",
            expected=frozenset({204, 404, 422}),
        )
    finally:
        await cleanup.aclose()


@pytest.fixture
def settings_overrides(server: pdnspeer.PowerDns, block: IPv4Network) -> dict[str, Any]:
    return {
        "rdns_backend": "powerdns",
        "rdns_powerdns_api_url": server.api_url,
        "rdns_powerdns_api_key": server.api_key,
        "rdns_powerdns_networks": str(block.supernet(new_prefix=24)),
        "rdns_powerdns_allowed_networks": "127.0.0.0/8",
        "rdns_nameserver": f"{server.dns_host}:{server.dns_port}",
    }


async def test_terminate_through_the_api_removes_the_ptr_from_powerdns(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    server: pdnspeer.PowerDns,
    block: IPv4Network,
) -> None:
    assert isinstance(installation.rdns, powerdns.PowerDnsRdns)
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.subnets.update().values(
                cidr=str(block),
                gateway=str(block.network_address + 1),
                dns_servers=[str(block.network_address + 14)],
            )
        )
    host = f"ptr-{secrets.token_hex(4)}.example.net"
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
