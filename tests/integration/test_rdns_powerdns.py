"""The PowerDNS rDNS backend against the real PowerDNS Authoritative server.

Each test writes into zones of its own (a random IPv4 /24 in 10/8, a random IPv6 /48 in
fd00::/8, a forward zone named after the test) so pytest-xdist workers share one server;
its zones are deleted afterwards. What is checked is what the server answers over DNS
(dnspython, `fcrdns.check`), not only the API's 2xx.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network

import pytest

from fluxbilling import errors
from fluxbilling.db import Database
from fluxbilling.network import fcrdns, powerdns, reverse
from fluxbilling.network.rdns import InternalRdns, RdnsBackend
from tests.integration import pdnspeer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@dataclass
class Space:
    """The names and prefixes one test owns on the shared server."""

    v4: IPv4Network = field(
        default_factory=lambda: IPv4Network(
            f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/24"
        )
    )
    v6: str = field(
        default_factory=lambda: (
            f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}::/48"
        )
    )
    forward: str = field(default_factory=lambda: f"t{secrets.token_hex(6)}.fluxbilling.test.")

    def host(self, label: str) -> str:
        return f"{label}.{self.forward}"


@pytest.fixture
def server() -> pdnspeer.PowerDns:
    return pdnspeer.running()


@pytest.fixture
async def space(server: pdnspeer.PowerDns) -> AsyncIterator[Space]:
    owned = Space()
    yield owned
    cleanup = powerdns.powerdns_http(
        server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"]
    )
    try:
        found = await cleanup.request("GET", "servers/localhost/zones", operation="list zones")
        v6_zone = reverse.place(ip_network(owned.v6).network_address, [ip_network(owned.v6)]).zone
        v4_suffix = reverse.place(owned.v4.network_address, [owned.v4]).zone
        for zone in found.json():
            name = zone["name"]
            if name == owned.forward or name == v6_zone or name.endswith(v4_suffix):
                await cleanup.request(
                    "DELETE", f"servers/localhost/zones/{zone['id']}", operation="delete zone"
                )
    finally:
        await cleanup.aclose()


def backend(
    server: pdnspeer.PowerDns, networks: list[str], **kwargs: object
) -> powerdns.PowerDnsRdns:
    http = powerdns.powerdns_http(server.api_url, server.api_key, allowed_networks=["127.0.0.0/8"])
    return powerdns.PowerDnsRdns(http, networks, **kwargs)  # type: ignore[arg-type]


async def publish_forward(
    rdns: powerdns.PowerDnsRdns, space: Space, host: str, *addresses: str
) -> None:
    await rdns.ensure_zone(space.forward)
    await rdns.publish(
        space.forward,
        [reverse.RRset(host, "AAAA" if ":" in a else "A", 60, (a,)) for a in addresses],
    )


async def check(server: pdnspeer.PowerDns, address: str, host: str) -> fcrdns.Verdict:
    return await fcrdns.check(address, host, server=server.dns_host, port=server.dns_port)


async def test_a_ptr_is_answered_forward_confirmed_and_gone_after_delete(
    server: pdnspeer.PowerDns, space: Space
) -> None:
    rdns = backend(server, [str(space.v4), space.v6])
    assert isinstance(rdns, RdnsBackend)
    v4 = str(space.v4.network_address + 10)
    v6 = str(ip_network(space.v6).network_address + 0x5)
    host = space.host("web1")
    try:
        await publish_forward(rdns, space, host, v4, v6)
        for address in (v4, v6):
            assert not (await check(server, address, host)).confirmed  # nothing written yet
            zone, name = await rdns.set_ptr(address, host.rstrip("."), ttl=300)
            assert (zone, name) == (rdns.place(address).zone, rdns.place(address).name)
            assert await rdns.set_ptr(address, host) == (zone, name)  # the same, again
            verdict = await check(server, address, host)
            assert verdict.confirmed, verdict.reason
            assert verdict.ptr == (host,)

        await rdns.set_ptr(v4, space.host("renamed"))  # an upsert replaces, never adds
        moved = await check(server, v4, host)
        assert not moved.confirmed and moved.ptr == (space.host("renamed"),)

        for address in (v4, v6):
            await rdns.delete_ptr(address)
            await rdns.delete_ptr(address)  # nothing left is not an error
            gone = await check(server, address, host)
            assert not gone.confirmed
            assert gone.reason == f"no PTR for {address} (NXDOMAIN)"
    finally:
        await rdns.aclose()


async def test_a_classless_block_is_written_in_its_rfc2317_zone_and_found_through_the_parent(
    server: pdnspeer.PowerDns, space: Space
) -> None:
    block = IPv4Network(f"{space.v4.network_address + 64}/26")
    rdns = backend(server, [str(block)], nameservers=["ns1.fluxbilling.test"])
    address = str(block.network_address + 6)
    host = space.host("small")
    try:
        await publish_forward(rdns, space, host, address)
        zone, name = await rdns.set_ptr(address, host)
        assert zone == f"64/26.{reverse.place(address).zone}"
        assert name == f"70.{zone}"
        # Without the parent's delegation, resolvers asking the classic name find nothing.
        assert not (await check(server, address, host)).confirmed
        parent, rrsets = reverse.rfc2317_delegation(block, rdns.nameservers)
        await rdns.publish(parent, rrsets)
        verdict = await check(server, address, host)
        assert verdict.confirmed, verdict.reason
        await rdns.delete_ptr(address)
        assert (await check(server, address, host)).reason == f"no PTR for {address} (NXDOMAIN)"
    finally:
        await rdns.aclose()


async def test_without_zone_creation_a_missing_zone_is_a_permanent_error(
    server: pdnspeer.PowerDns, space: Space
) -> None:
    rdns = backend(server, [str(space.v4)], create_zones=False)
    address = str(space.v4.network_address + 1)
    try:
        with pytest.raises(errors.PermanentUpstreamError, match="HTTP 404") as caught:
            await rdns.set_ptr(address, space.host("x"))
        assert caught.value.status == 404
        await rdns.delete_ptr(address)  # no zone: no PTR, which is what delete wants
    finally:
        await rdns.aclose()


async def test_a_wrong_key_is_refused_and_never_shown(
    server: pdnspeer.PowerDns, space: Space, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-" + secrets.token_hex(12)
    http = powerdns.powerdns_http(server.api_url, wrong, allowed_networks=["127.0.0.0/8"])
    rdns = powerdns.PowerDnsRdns(http, [str(space.v4)])
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(errors.PermanentUpstreamError, match="HTTP 401") as caught:
            await rdns.set_ptr(str(space.v4.network_address + 1), space.host("x"))
        exchange = http.recorder.exchanges[-1]
        assert wrong not in str(caught.value) and wrong not in repr(caught.value.details)
        assert wrong not in str(exchange) and exchange["request"]["headers"]["X-API-Key"] == "***"
        assert wrong not in caplog.text
    finally:
        await rdns.aclose()


async def test_the_api_is_reached_only_where_the_address_policy_allows(
    server: pdnspeer.PowerDns,
) -> None:
    http = powerdns.powerdns_http(server.api_url, server.api_key)  # loopback not allowed
    rdns = powerdns.PowerDnsRdns(http)
    try:
        with pytest.raises(errors.PermanentUpstreamError, match="loopback"):
            await rdns.set_ptr("192.0.2.1", "x.fluxbilling.test")
        assert http.recorder.last is not None and http.recorder.last.status is None
    finally:
        await rdns.aclose()
    with pytest.raises(errors.InvalidSettings, match="API key"):
        powerdns.powerdns_http(server.api_url, "")
    with pytest.raises(errors.InvalidSettings, match="allowed networks"):
        powerdns.powerdns_http(server.api_url, "k" * 16, allowed_networks=["8.8.8.0/24"])


async def test_a_silent_server_is_a_transient_error() -> None:
    with pytest.raises(errors.TransientUpstreamError, match="did not answer"):
        await fcrdns.check("192.0.2.1", "x.test", server="127.0.0.1", port=9, timeout=0.2)


async def test_the_internal_backend_deletes_its_ptr(db: Database) -> None:
    rdns = InternalRdns(db)
    await rdns.set_ptr("192.0.2.10", "web1.example.com")
    await rdns.set_ptr("192.0.2.11", "web2.example.com")
    await rdns.delete_ptr("192.0.2.10")
    await rdns.delete_ptr("192.0.2.10")
    assert await rdns.lookup("192.0.2.10") is None
    assert await rdns.lookup("192.0.2.11") == "web2.example.com."


async def test_the_backend_publishes_the_forward_record_and_confirms_through_powerdns(
    server: pdnspeer.PowerDns, space: Space
) -> None:
    rdns = backend(
        server,
        [str(space.v4), space.v6],
        forward_zone=space.forward,
        dns_server=(server.dns_host, server.dns_port),
    )
    v4 = str(space.v4.network_address + 20)
    v6 = str(ip_network(space.v6).network_address + 0x20)
    host = space.host("vps")
    try:
        for address in (v4, v6):
            await rdns.set_ptr(address, host)
            assert not (await rdns.confirm(address, host)).confirmed  # no A/AAAA yet
            assert await rdns.set_forward(host, address) == (space.forward, host)
            await rdns.set_forward(host, address)  # the same, again
            verdict = await rdns.confirm(address, host)
            assert verdict.confirmed, verdict.reason
            assert verdict.server == f"{server.dns_host}:{server.dns_port}"
        await rdns.delete_forward(host, v4)
        await rdns.delete_forward(host, v4)  # nothing left is not an error
        gone = await rdns.confirm(v4, host)
        assert gone.reason == f"no A for {host} (NOERROR)"
        assert (await rdns.confirm(v6, host)).confirmed  # the AAAA stays
    finally:
        await rdns.aclose()
