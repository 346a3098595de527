"""Where a PTR record lives: reverse zone and owner name per address, RFC 2317 included (pure).

A DNS backend is configured with the prefixes delegated to it. An address's PTR goes into the
zone of the most specific configured prefix that holds it:

| prefix                  | zone                                  | PTR owner name                 |
|-------------------------|---------------------------------------|--------------------------------|
| IPv4 /8, /16, /24       | that classful zone                    | the address's in-addr.arpa name |
| IPv4 /17-/23 (/9-/15..) | the classful zone below holding it    | the address's in-addr.arpa name |
| IPv4 /25-/32            | `128/25.2.0.192.in-addr.arpa.` (RFC 2317) | `130.128/25.2.0.192.in-addr.arpa.` |
| IPv6 on a nibble        | that ip6.arpa zone                    | the 32-nibble ip6.arpa name    |
| IPv6 between nibbles    | the nibble zone below holding it      | the 32-nibble ip6.arpa name    |

An address outside every configured prefix falls back to its IPv4 /24 or IPv6 /64 zone. For a
classless block, the owner of the parent /24 publishes the delegation (`rfc2317_delegation`):
NS records for the child zone and one CNAME per address pointing into it, so resolvers that
ask for `130.2.0.192.in-addr.arpa.` are led to the child zone's PTR.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fluxbilling.network import ipam

__all__ = ["Placement", "RRset", "classless_zone", "place", "rfc2317_delegation"]

IPAddress = ipam.IPAddress
IPNetwork = ipam.IPNetwork


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the PTR of one address is written.

    Attributes:
        zone: the reverse zone, absolute (trailing dot).
        name: the PTR owner name inside `zone`, absolute.
        lookup: the name a resolver asks for (`address.reverse_pointer`); differs from `name`
            only for RFC 2317 classless zones, where the parent's CNAME leads to `name`.
    """

    zone: str
    name: str
    lookup: str


@dataclass(frozen=True, slots=True)
class RRset:
    """One record set (name, type, TTL, contents), the unit DNS APIs write."""

    name: str
    type: str
    ttl: int
    contents: tuple[str, ...]


def classless_zone(network: ipaddress.IPv4Network) -> str:
    """The RFC 2317 child zone for an IPv4 block smaller than a /24.

    Args:
        network: an IPv4 prefix from /25 to /32.

    Returns:
        `<first octet of the block>/<prefix length>.<the /24's reverse zone>`, the form of
        RFC 2317's own examples.

    Raises:
        ValueError: the prefix is IPv6 or not longer than /24.

    Examples:
        >>> classless_zone(ipaddress.IPv4Network("192.0.2.128/25"))
        '128/25.2.0.192.in-addr.arpa.'
    """
    if network.version != 4 or network.prefixlen <= 24:
        raise ValueError(f"{network} is not an IPv4 block smaller than a /24")
    parent = ipam.reverse_zone_for(network)
    first = int(network.network_address) & 0xFF
    return f"{first}/{network.prefixlen}.{parent}"


def _classful_zone(network: IPNetwork, address: IPAddress) -> str:
    """The zone of `network` (or of its label-aligned subnet) that holds `address`."""
    for zone in ipam.reverse_zones_for(network):
        if ipam.ptr_name(address).endswith("." + zone):
            return zone
    raise ValueError(f"{address} is not in {network}")  # pragma: no cover - caller checked


def place(address: str | IPAddress, networks: Iterable[IPNetwork] = ()) -> Placement:
    """Where the PTR of `address` goes, given the prefixes delegated to the backend.

    Args:
        address: an IPv4 or IPv6 address.
        networks: the delegated prefixes; the most specific one holding `address` wins.

    Returns:
        The zone, the owner name in it and the name resolvers ask for.

    Examples:
        >>> place("192.0.2.130", [ipaddress.ip_network("192.0.2.128/25")]).name
        '130.128/25.2.0.192.in-addr.arpa.'
        >>> place("192.0.2.10").zone
        '2.0.192.in-addr.arpa.'
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    holding = [n for n in networks if n.version == ip.version and ip in n]
    if holding:
        network = max(holding, key=lambda n: n.prefixlen)
    else:
        network = ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False)
    lookup = ipam.ptr_name(ip)
    if isinstance(network, ipaddress.IPv4Network) and network.prefixlen > 24:
        zone = classless_zone(network)
        return Placement(zone=zone, name=f"{int(ip) & 0xFF}.{zone}", lookup=lookup)
    return Placement(zone=_classful_zone(network, ip), name=lookup, lookup=lookup)


def rfc2317_delegation(
    network: ipaddress.IPv4Network, nameservers: Sequence[str], *, ttl: int = 3600
) -> tuple[str, tuple[RRset, ...]]:
    """The records the parent /24 zone needs to delegate a classless block (RFC 2317).

    Args:
        network: the block, /25 to /32.
        nameservers: the child zone's name servers (absolute names).
        ttl: TTL of the records.

    Returns:
        `(parent zone, record sets)`: the child zone's NS set, then one CNAME per address
        of the block, each pointing at its owner name in the child zone.

    Examples:
        >>> parent, rrsets = rfc2317_delegation(
        ...     ipaddress.IPv4Network("192.0.2.128/30"), ["ns1.example.net."])
        >>> parent, rrsets[0].name, rrsets[1].name, rrsets[1].contents
        ('2.0.192.in-addr.arpa.', '128/30.2.0.192.in-addr.arpa.', '128.2.0.192.in-addr.arpa.', ('128.128/30.2.0.192.in-addr.arpa.',))
    """  # noqa: E501
    child = classless_zone(network)
    records = [RRset(child, "NS", ttl, tuple(nameservers))]
    for ip in network:
        records.append(RRset(ipam.ptr_name(ip), "CNAME", ttl, (f"{int(ip) & 0xFF}.{child}",)))
    return ipam.reverse_zone_for(network), tuple(records)
