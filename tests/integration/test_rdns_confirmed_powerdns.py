"""Forward-confirmed rDNS with the real PowerDNS (both databases): the network phase waits
until PowerDNS answers the PTR and the host's A as published, then completes.

To make PowerDNS answer something else at first, the test creates a zone for the host name
itself before the order: PowerDNS answers the host's A from that (more specific) zone, where
it has none, whatever the forward zone holds, as a stale delegation would. Once the test
deletes that zone, PowerDNS answers the A the phase published, and the next check completes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from ipaddress import IPv4Network
from typing import Any

import pytest

from fluxbilling import bootstrap, errors
from fluxbilling.db import schema
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.network import powerdns
from fluxbilling.orders import detail
from tests.integration import pdnspeer
from tests.integration.support import activity, drain, make_due, place_and_pay, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def server() -> pdnspeer.PowerDns:
    return pdnspeer.running()


@pytest.fixture
async def api(server: pdnspeer.PowerDns) -> AsyncIterator[UpstreamHttp]:
    client = powerdns.powerdns_http(
        server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"]
    )
    yield client
    await client.aclose()


@pytest.fixture
def names() -> tuple[str, str]:
    """(forward zone, host name) of this test alone."""
    zone = f"fc-{secrets.token_hex(4)}.example.net."
    return zone, f"vps.{zone}"


@pytest.fixture
async def block(api: UpstreamHttp, names: tuple[str, str]) -> AsyncIterator[IPv4Network]:
    """A /28 of this test's own; its reverse zone and the forward zones deleted afterwards."""
    owned = IPv4Network(f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/28")
    yield owned
    reverse = ".".join(reversed(str(owned.network_address).split(".")[:3])) + ".in-addr.arpa."
    for zone in (reverse, *names):
        await delete_zone(api, zone)


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


@pytest.fixture
def settings_overrides(
    server: pdnspeer.PowerDns, block: IPv4Network, names: tuple[str, str]
) -> dict[str, Any]:
    return {
        "rdns_backend": "powerdns",
        "rdns_powerdns_api_url": server.api_url,
        "rdns_powerdns_api_key": server.api_key,
        "rdns_powerdns_networks": str(block.supernet(new_prefix=24)),
        "rdns_powerdns_allowed_networks": "127.0.0.0/8",
        "rdns_nameserver": f"{server.dns_host}:{server.dns_port}",
        "rdns_forward_zone": names[0],
    }


async def test_the_phase_waits_until_powerdns_answers_the_a_then_completes(
    installation: bootstrap.Installation,
    server: pdnspeer.PowerDns,
    api: UpstreamHttp,
    block: IPv4Network,
    names: tuple[str, str],
) -> None:
    _zone, host = names
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.subnets.update().values(
                cidr=str(block),
                gateway=str(block.network_address + 1),
                dns_servers=[str(block.network_address + 14)],
            )
        )
    await api.request(  # the shadowing zone: PowerDNS answers the host's A from here
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

    await delete_zone(api, host)
    await make_due(installation, order_id)
    await drain(installation)
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    address = order.phases[1].output["address"]
    confirmed = [e for e in await activity(installation, order_id) if e.event == "rdns_confirmed"]
    assert [e.message for e in confirmed] == [f"{dns_at} answered {address} -> {host} -> {address}"]
