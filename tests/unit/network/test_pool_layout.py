"""Tests for the pool layout rules of `fluxbilling.network.ipam` and `allocation.leases`."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from fluxbilling.allocation import leases
from fluxbilling.network import ipam


def test_an_ipv4_pool_skips_network_broadcast_gateway_and_reserved_ranges() -> None:
    pool = ipam.layout(
        ip_network("192.0.2.0/28"),
        ipam.PoolKind.ADDRESSES,
        infrastructure=[ip_address("192.0.2.1"), ip_address("2001:db8::1")],
        reserved=["192.0.2.3-192.0.2.4", "192.0.2.8/30", "198.51.100.0/24"],
    )
    assert (pool.first, pool.last) == (1, 14)
    assert pool.excluded == ((1, 1), (3, 4), (8, 11))
    allowed = [o for o in range(16) if ipam.next_allowed(pool, o) == o]
    assert allowed == [2, 5, 6, 7, 12, 13, 14]
    assert pool.size == len(allowed)
    assert ipam.next_allowed(pool, 15) is None


def test_a_routed_pool_numbers_its_prefixes() -> None:
    pool = ipam.layout(
        ip_network("2001:db8::/48"),
        ipam.PoolKind.ROUTED,
        lease_prefix_len=64,
        infrastructure=[ip_address("2001:db8:0:2::1")],
    )
    assert (pool.first, pool.last, pool.excluded) == (0, 65535, ((2, 2),))
    assert str(pool.lease_at(5)) == "2001:db8:0:5::/64"
    assert pool.ordinal_of(ip_address("2001:db8:0:5::99")) == 5
    assert ipam.next_allowed(pool, 2) == 3
    assert str(ipam.service_address(pool.lease_at(5))) == "2001:db8:0:5::1"


def test_an_ipv6_address_pool_is_capped_at_the_largest_ordinal() -> None:
    pool = ipam.layout(ip_network("2001:db8::/64"), ipam.PoolKind.ADDRESSES)
    assert (pool.first, pool.last) == (1, ipam.MAX_ORDINAL)


@pytest.mark.parametrize("length", [None, 48, 129])
def test_a_routed_pool_needs_a_longer_lease(length: int | None) -> None:
    with pytest.raises(ValueError, match="lease prefix length"):
        ipam.layout(ip_network("2001:db8::/48"), ipam.PoolKind.ROUTED, lease_prefix_len=length)


@pytest.mark.parametrize("text", ["192.0.2.9-192.0.2.1", "192.0.2.1-2001:db8::1", "nonsense"])
def test_bad_reserved_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        ipam.parse_range(text)


def test_what_a_product_leases() -> None:
    assert leases.wants({}) == (leases.Want(4, ipam.PoolKind.ADDRESSES),)
    assert [
        w.describe()
        for w in leases.wants({"ipv4_address": False, "ipv6_address": True, "ipv6_routed": True})
    ] == ["IPv6 address", "IPv6 routed prefix"]
    row = {"address": "2001:db8:0:5::", "prefix_len": 64}
    assert (leases.prefix_of(row), leases.service_address_of(row)) == (
        "2001:db8:0:5::/64",
        "2001:db8:0:5::1",
    )
