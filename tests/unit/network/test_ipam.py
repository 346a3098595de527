"""Tests for `fluxbilling.network.ipam`."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address, ip_network

import pytest

from fluxbilling.network import ipam


def test_style_guide_example() -> None:
    assert ipam.first_free(ip_network("192.0.2.0/29"), used={ip_address("192.0.2.1")}) == (
        ip_address("192.0.2.2")
    )


def test_skips_network_address_and_reserved_gateway() -> None:
    net = ip_network("192.0.2.0/29")
    assert ipam.first_free(net, used=set()) == IPv4Address("192.0.2.1")
    assert ipam.first_free(net, used=(), reserved=[IPv4Address("192.0.2.1")]) == IPv4Address(
        "192.0.2.2"
    )


def test_full_prefix_returns_none_and_broadcast_is_never_used() -> None:
    net = ip_network("192.0.2.0/29")
    used = {IPv4Address(f"192.0.2.{i}") for i in range(1, 7)}
    assert ipam.first_free(net, used) is None


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("192.0.2.8/31", ["192.0.2.8", "192.0.2.9"]),
        ("192.0.2.9/32", ["192.0.2.9"]),
        ("192.0.2.8/30", ["192.0.2.9", "192.0.2.10"]),
        ("2001:db8::/127", ["2001:db8::", "2001:db8::1"]),
        ("2001:db8::5/128", ["2001:db8::5"]),
        ("2001:db8::/126", ["2001:db8::1", "2001:db8::2", "2001:db8::3"]),
    ],
)
def test_assignable_addresses_of_small_prefixes(prefix: str, expected: list[str]) -> None:
    net = ip_network(prefix)
    got = []
    used: set[IPv4Address | IPv6Address] = set()
    while (address := ipam.first_free(net, used)) is not None:
        got.append(str(address))
        used.add(address)
    assert got == expected


def test_ipv6_returns_ipv6_even_for_small_integers() -> None:
    result = ipam.first_free(ip_network("::/120"), used=set())
    assert result == IPv6Address("::1")
    assert isinstance(result, IPv6Address)


def test_foreign_addresses_are_ignored() -> None:
    net = ip_network("192.0.2.0/30")
    used: set[IPv4Address | IPv6Address] = {
        IPv4Address("10.0.0.1"),
        IPv6Address("::1"),
        IPv4Address("192.0.2.3"),
    }
    assert ipam.first_free(net, used) == IPv4Address("192.0.2.1")


def test_large_prefix_with_all_but_the_last_used() -> None:
    net = IPv4Network("10.20.0.0/16")
    hosts = list(net.hosts())
    assert ipam.first_free(net, set(hosts[:-1])) == hosts[-1]
    assert ipam.first_free(net, set(hosts)) is None


def test_huge_ipv6_prefix_does_not_enumerate() -> None:
    assert ipam.first_free(ip_network("2001:db8::/32"), used={IPv6Address("2001:db8::1")}) == (
        IPv6Address("2001:db8::2")
    )


def test_property_never_returns_used_reserved_network_or_broadcast() -> None:
    rng = random.Random(20240601)
    for _ in range(500):
        prefixlen = rng.randint(22, 32)
        base = rng.getrandbits(32) & ~((1 << (32 - prefixlen)) - 1)
        net = IPv4Network((base, prefixlen))
        size = net.num_addresses
        used = {net[rng.randrange(size)] for _ in range(rng.randint(0, size))}
        reserved = {net[rng.randrange(size)] for _ in range(rng.randint(0, 3))}
        result = ipam.first_free(net, used, reserved=reserved)
        assignable = set(net.hosts()) if prefixlen < 31 else set(net)
        free = assignable - used - reserved
        if result is None:
            assert not free
            continue
        assert result in net
        assert result not in used
        assert result not in reserved
        if prefixlen < 31:
            assert result not in (net.network_address, net.broadcast_address)
        assert result == min(free)


def test_ptr_names() -> None:
    assert ipam.ptr_name(ip_address("192.0.2.10")) == "10.2.0.192.in-addr.arpa."
    name = ipam.ptr_name(ip_address("2001:db8::1"))
    assert name == "1." + "0." * 23 + "8.b.d.0.1.0.0.2.ip6.arpa."
    assert name.count(".") == 34


@pytest.mark.parametrize(
    ("prefix", "zone"),
    [
        ("192.0.2.0/24", "2.0.192.in-addr.arpa."),
        ("192.0.2.128/25", "2.0.192.in-addr.arpa."),
        ("192.0.2.10/32", "2.0.192.in-addr.arpa."),
        ("198.51.100.0/22", "51.198.in-addr.arpa."),
        ("10.0.0.0/8", "10.in-addr.arpa."),
        ("10.0.0.0/16", "0.10.in-addr.arpa."),
        ("0.0.0.0/0", "in-addr.arpa."),
        ("2001:db8:1:2::/64", "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
        ("2001:db8::/32", "8.b.d.0.1.0.0.2.ip6.arpa."),
        ("2001:db8::/62", "0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
    ],
)
def test_reverse_zone_for(prefix: str, zone: str) -> None:
    assert ipam.reverse_zone_for(ip_network(prefix)) == zone


@pytest.mark.parametrize(
    ("prefix", "zones"),
    [
        ("192.0.2.0/24", ("2.0.192.in-addr.arpa.",)),
        ("192.0.2.64/26", ("2.0.192.in-addr.arpa.",)),
        (
            "198.51.100.0/22",
            tuple(f"{i}.51.198.in-addr.arpa." for i in range(100, 104)),
        ),
        ("10.0.0.0/15", ("0.10.in-addr.arpa.", "1.10.in-addr.arpa.")),
        ("2001:db8::/64", ("0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",)),
        (
            "2001:db8::/63",
            (
                "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
                "1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            ),
        ),
    ],
)
def test_reverse_zones_for(prefix: str, zones: tuple[str, ...]) -> None:
    assert ipam.reverse_zones_for(ip_network(prefix)) == zones


def test_every_ptr_name_falls_in_its_zone() -> None:
    rng = random.Random(7)
    for prefix in ("198.51.100.0/22", "192.0.2.128/25", "2001:db8::/62"):
        net = ip_network(prefix)
        zones = ipam.reverse_zones_for(net)
        for _ in range(50):
            name = ipam.ptr_name(net[rng.randrange(net.num_addresses)])
            assert name.endswith("." + ipam.reverse_zone_for(net))
            assert sum(name.endswith("." + zone) for zone in zones) == 1
