"""Tests for `fluxbilling.network.reverse`: the zone and owner name of each PTR."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_address, ip_network

import pytest

from fluxbilling.network import reverse


@pytest.mark.parametrize(
    ("address", "networks", "zone", "name"),
    [
        # classful IPv4: the configured /24 or /16, a /22 split into its /24 zones
        ("192.0.2.10", ["192.0.2.0/24"], "2.0.192.in-addr.arpa.", "10.2.0.192.in-addr.arpa."),
        ("10.20.30.40", ["10.20.0.0/16"], "20.10.in-addr.arpa.", "40.30.20.10.in-addr.arpa."),
        (
            "198.51.102.7",
            ["198.51.100.0/22"],
            "102.51.198.in-addr.arpa.",
            "7.102.51.198.in-addr.arpa.",
        ),
        # RFC 2317: blocks smaller than a /24 get a child zone named after the block
        (
            "192.0.2.130",
            ["192.0.2.128/25"],
            "128/25.2.0.192.in-addr.arpa.",
            "130.128/25.2.0.192.in-addr.arpa.",
        ),
        (
            "192.0.2.70",
            ["192.0.2.64/26"],
            "64/26.2.0.192.in-addr.arpa.",
            "70.64/26.2.0.192.in-addr.arpa.",
        ),
        (
            "203.0.113.9",
            ["203.0.113.8/29"],
            "8/29.113.0.203.in-addr.arpa.",
            "9.8/29.113.0.203.in-addr.arpa.",
        ),
        (
            "203.0.113.9",
            ["203.0.113.9/32"],
            "9/32.113.0.203.in-addr.arpa.",
            "9.9/32.113.0.203.in-addr.arpa.",
        ),
        # the most specific prefix wins, whatever the order
        (
            "192.0.2.130",
            ["192.0.2.128/25", "192.0.0.0/16"],
            "128/25.2.0.192.in-addr.arpa.",
            "130.128/25.2.0.192.in-addr.arpa.",
        ),
        ("192.0.2.10", ["192.0.2.128/25", "192.0.0.0/16"], "0.192.in-addr.arpa.", None),
        # outside every prefix: the /24 (IPv4) or /64 (IPv6) zone
        ("192.0.2.10", ["2001:db8::/32"], "2.0.192.in-addr.arpa.", None),
        ("2001:db8:1:2::5", [], "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", None),
        # ip6.arpa nibble zones, and the nibble zone holding a prefix between nibbles
        ("2001:db8:1::5", ["2001:db8:1::/48"], "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", None),
        (
            "2001:db8:1:7::1",
            ["2001:db8:1:4::/62"],
            "7.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            None,
        ),
    ],
)
def test_each_address_lands_in_the_zone_of_its_most_specific_prefix(
    address: str, networks: list[str], zone: str, name: str | None
) -> None:
    placed = reverse.place(address, [ip_network(n) for n in networks])
    lookup = ip_address(address).reverse_pointer + "."
    assert placed.zone == zone
    assert placed.name == (name or lookup)
    assert placed.lookup == lookup
    assert placed.name.endswith("." + placed.zone)


def test_the_ipv6_owner_name_has_all_32_nibbles() -> None:
    placed = reverse.place("2001:db8::1", [ip_network("2001:db8::/32")])
    assert placed.zone == "8.b.d.0.1.0.0.2.ip6.arpa."
    labels = placed.name.removesuffix(".ip6.arpa.").split(".")
    assert len(labels) == 32 and labels[0] == "1" and labels[-4:] == ["1", "0", "0", "2"]


@pytest.mark.parametrize("network", ["192.0.2.0/24", "192.0.0.0/16", "2001:db8::/120"])
def test_a_classless_zone_is_only_for_ipv4_blocks_smaller_than_a_24(network: str) -> None:
    with pytest.raises(ValueError, match="smaller than a /24"):
        reverse.classless_zone(ip_network(network))  # type: ignore[arg-type]


def test_the_delegation_names_the_child_servers_and_leads_every_address_into_the_child() -> None:
    parent, rrsets = reverse.rfc2317_delegation(
        IPv4Network("192.0.2.64/27"), ["ns1.example.net.", "ns2.example.net."], ttl=600
    )
    assert parent == "2.0.192.in-addr.arpa."
    ns, *cnames = rrsets
    assert ns == reverse.RRset(
        "64/27.2.0.192.in-addr.arpa.", "NS", 600, ("ns1.example.net.", "ns2.example.net.")
    )
    assert len(cnames) == 32
    assert {c.type for c in cnames} == {"CNAME"}
    assert cnames[0] == reverse.RRset(
        "64.2.0.192.in-addr.arpa.", "CNAME", 600, ("64.64/27.2.0.192.in-addr.arpa.",)
    )
    assert cnames[-1].name == "95.2.0.192.in-addr.arpa."
    for cname in cnames:  # each CNAME target is the owner name `place` writes the PTR at
        address = ".".join(reversed(cname.name.split(".")[:4]))
        assert cname.contents == (reverse.place(address, [ip_network("192.0.2.64/27")]).name,)
