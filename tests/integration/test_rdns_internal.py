"""The internal rDNS backend: upsert and delete of PTR and A/AAAA rows, served over DNS, on both
databases."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.db import Database
from fluxbilling.network.dnsserver import DnsServer
from fluxbilling.network.rdns import InternalRdns, RdnsBackend

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_set_is_an_upsert_and_delete_removes_only_that_ptr(db: Database) -> None:
    rdns = InternalRdns(db)
    assert isinstance(rdns, RdnsBackend)
    assert await rdns.set_ptr("192.0.2.10", "web1.example.com") == (
        "2.0.192.in-addr.arpa.",
        "10.2.0.192.in-addr.arpa.",
    )
    await rdns.set_ptr("192.0.2.10", "web2.example.com.")
    await rdns.set_ptr("2001:db8::1", "v6.example.com")
    assert await rdns.lookup("192.0.2.10") == "web2.example.com."
    await rdns.delete_ptr("192.0.2.10")
    assert await rdns.lookup("192.0.2.10") is None
    assert await rdns.lookup("2001:db8::1") == "v6.example.com."
    await rdns.delete_ptr("192.0.2.10")  # nothing left: not an error
    assert await rdns.lookup("192.0.2.10") is None


async def test_forward_records_are_served_and_confirmed_by_our_dns_server(db: Database) -> None:
    rdns = InternalRdns(db, forward_zone="hosts.example.com")
    await rdns.set_ptr("192.0.2.10", "vps1.hosts.example.com")
    await rdns.set_ptr("2001:db8::10", "vps1.hosts.example.com")
    assert await rdns.set_forward("VPS1.hosts.example.com", "192.0.2.10") == (
        "hosts.example.com.",
        "vps1.hosts.example.com.",
    )
    await rdns.set_forward("vps1.hosts.example.com", "2001:db8::10")
    table_verdict = await rdns.confirm("192.0.2.10", "vps1.hosts.example.com")
    assert table_verdict.confirmed, table_verdict.reason
    assert table_verdict.server == "dns_records (no DNS server in this process)"

    server = DnsServer(rdns.table)
    await server.start()
    try:
        rdns.nameserver = server.address
        for address in ("192.0.2.10", "2001:db8::10"):
            verdict = await rdns.confirm(address, "vps1.hosts.example.com")
            assert verdict.confirmed, verdict.reason
            assert verdict.server == "{}:{}".format(*server.address)
        await rdns.delete_forward("vps1.hosts.example.com", "192.0.2.99")  # not its: kept
        assert (await rdns.confirm("192.0.2.10", "vps1.hosts.example.com")).confirmed
        await rdns.delete_forward("vps1.hosts.example.com", "192.0.2.10")
        gone = await rdns.confirm("192.0.2.10", "vps1.hosts.example.com")
        assert gone.reason == "no A for vps1.hosts.example.com. (NOERROR)"  # the AAAA is left
    finally:
        await server.stop()
    with pytest.raises(errors.PermanentUpstreamError, match="outside the forward zone"):
        await rdns.set_forward("vps1.example.org", "192.0.2.10")
