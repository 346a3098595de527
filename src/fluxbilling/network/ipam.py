"""Pure IP address management: pool layouts, the first free address, reverse-DNS names.

Which addresses of a prefix are assignable:

| Prefix               | Not assignable                                         |
|----------------------|--------------------------------------------------------|
| IPv4 up to /30       | the network and the broadcast address                  |
| IPv4 /31, /32        | nothing (RFC 3021 point-to-point, a single host)       |
| IPv6 up to /126      | the network address (Subnet-Router anycast, RFC 4291)  |
| IPv6 /127, /128      | nothing (RFC 6164 point-to-point, a single host)       |

plus whatever the caller passes as `used` or `reserved` (the gateway, routers, VRRP
addresses). Callers hold the allocation lock around "find free + allocate"; this module
only decides.

A pool's leases are numbered by *ordinal*: the offset of the address (kind `addresses`)
or of the routed prefix (kind `routed`, e.g. the n-th /64 of a /48) from the start of the
pool. `layout` turns a pool into the ordinal range it may hand out and the ordinal ranges
it must skip (the rules above, the gateway, resolvers and reserved ranges), so the
database can find the lowest free ordinal with a gap query (`allocation.leases`) and this
module only says whether a candidate is allowed (`next_allowed`). Ordinals are BIGINT:
an IPv6 address pool hands out at most its first 2**63 addresses.

Reverse zones are classful: IPv4 zones sit on octet boundaries, IPv6 zones on nibble
boundaries. RFC 2317 classless delegation is out of scope: an IPv4 network longer than
/24 maps to the /24 zone that contains it.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import overload

__all__ = [
    "MAX_ORDINAL",
    "IPAddress",
    "IPNetwork",
    "PoolKind",
    "PoolLayout",
    "first_free",
    "layout",
    "next_allowed",
    "parse_range",
    "ptr_name",
    "reverse_zone_for",
    "reverse_zones_for",
    "service_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _assignable_range(network: IPNetwork) -> tuple[int, int]:
    """First and last assignable address of `network`, as integers (inclusive)."""
    first = int(network.network_address)
    last = int(network.broadcast_address)
    host_bits = network.max_prefixlen - network.prefixlen
    if host_bits <= 1:
        return first, last
    if network.version == 4:
        return first + 1, last - 1
    return first + 1, last


@overload
def first_free(
    network: ipaddress.IPv4Network,
    used: Collection[IPAddress],
    *,
    reserved: Collection[IPAddress] = (),
) -> ipaddress.IPv4Address | None: ...


@overload
def first_free(
    network: ipaddress.IPv6Network,
    used: Collection[IPAddress],
    *,
    reserved: Collection[IPAddress] = (),
) -> ipaddress.IPv6Address | None: ...


@overload
def first_free(
    network: IPNetwork,
    used: Collection[IPAddress],
    *,
    reserved: Collection[IPAddress] = (),
) -> IPAddress | None: ...


def first_free(
    network: IPNetwork,
    used: Collection[IPAddress],
    *,
    reserved: Collection[IPAddress] = (),
) -> IPAddress | None:
    """The lowest assignable address of `network` that is neither used nor reserved.

    Runs in O(len(used) + len(reserved)) whatever the size of the prefix: it never lists
    the hosts of the network. Addresses outside `network` (or of the other IP version) in
    `used`/`reserved` are ignored.

    Args:
        network: the prefix to allocate from.
        used: addresses already assigned.
        reserved: addresses never to hand out (pass the gateway here).

    Returns:
        The address, or None when the prefix is full.

    Examples:
        >>> from ipaddress import ip_address, ip_network
        >>> first_free(ip_network("192.0.2.0/29"), used={ip_address("192.0.2.1")})
        IPv4Address('192.0.2.2')
    """
    first, last = _assignable_range(network)
    taken = {
        value
        for address in (*used, *reserved)
        if address.version == network.version and first <= (value := int(address)) <= last
    }
    # At most len(taken) + 1 candidates are looked at before a free one (or the end).
    candidate = first
    while candidate <= last:
        if candidate not in taken:
            return type(network.network_address)(candidate)
        candidate += 1
    return None


def ptr_name(address: IPAddress) -> str:
    """The reverse-DNS (PTR) owner name of `address`, fully qualified with a trailing dot.

    Args:
        address: an IPv4 or IPv6 address.

    Returns:
        `10.2.0.192.in-addr.arpa.` style for IPv4, the 32-nibble `ip6.arpa.` name for IPv6.

    Examples:
        >>> from ipaddress import ip_address
        >>> ptr_name(ip_address("192.0.2.10"))
        '10.2.0.192.in-addr.arpa.'
    """
    return address.reverse_pointer + "."


def _zone_unit(network: IPNetwork) -> int:
    """Bits per label of the reverse tree: octets for IPv4, nibbles for IPv6."""
    return 8 if network.version == 4 else 4


def _zone_name(network: IPNetwork, labels: int) -> str:
    """The reverse zone whose owner names keep the first `labels` labels of `network`."""
    reverse = network.network_address.reverse_pointer.split(".")
    suffix = reverse[-2:]  # in-addr.arpa / ip6.arpa
    digits = reverse[:-2]
    kept = digits[len(digits) - labels :] if labels else []
    return ".".join([*kept, *suffix]) + "."


def reverse_zone_for(network: IPNetwork) -> str:
    """The smallest classful reverse zone that contains every address of `network`.

    Args:
        network: an IPv4 or IPv6 prefix.

    Returns:
        The zone name with a trailing dot. IPv4: `/24` -> `2.0.192.in-addr.arpa.`, a `/22`
        -> the `/16` zone, a `/25`-`/32` -> the containing `/24` zone (no RFC 2317).
        IPv6: `/64` -> the 16-nibble zone, a `/62` -> the `/60` zone.

    Examples:
        >>> from ipaddress import ip_network
        >>> reverse_zone_for(ip_network("192.0.2.128/25"))
        '2.0.192.in-addr.arpa.'
    """
    unit = _zone_unit(network)
    cap = 24 if network.version == 4 else network.max_prefixlen - unit
    labels = min(network.prefixlen, cap) // unit
    return _zone_name(network, labels)


def reverse_zones_for(network: IPNetwork) -> tuple[str, ...]:
    """The classful reverse zones that together cover `network` exactly (the ones to create).

    Args:
        network: an IPv4 or IPv6 prefix.

    Returns:
        One zone when the prefix sits on a label boundary (or is longer than an IPv4 /24);
        otherwise the zones of its subnets at the next boundary, in address order: a `/22`
        gives four `/24` zones, a `/62` four `/64` zones. At most 128 (IPv4) or 8 (IPv6).

    Examples:
        >>> from ipaddress import ip_network
        >>> reverse_zones_for(ip_network("198.51.100.0/23"))
        ('100.51.198.in-addr.arpa.', '101.51.198.in-addr.arpa.')
    """
    unit = _zone_unit(network)
    cap = 24 if network.version == 4 else network.max_prefixlen - unit
    if network.prefixlen >= cap or network.prefixlen % unit == 0:
        return (reverse_zone_for(network),)
    boundary = (network.prefixlen // unit + 1) * unit
    return tuple(
        _zone_name(subnet, boundary // unit) for subnet in network.subnets(new_prefix=boundary)
    )


MAX_ORDINAL = 2**63 - 1
"""The largest ordinal a lease can have (a signed BIGINT)."""


class PoolKind(StrEnum):
    """What one lease of a pool is."""

    ADDRESSES = "addresses"
    """One address per service."""
    ROUTED = "routed"
    """A prefix routed to the service (`lease_prefix_len` long, e.g. a /64 of a /48)."""


@dataclass(frozen=True, slots=True)
class PoolLayout:
    """Which ordinals of a pool may be leased.

    Attributes:
        network: the pool's prefix.
        kind: what one lease is.
        lease_prefix_len: the length of one lease (the address length for `addresses`).
        first: the lowest ordinal that may be leased.
        last: the highest (inclusive; capped at `MAX_ORDINAL`).
        excluded: sorted, disjoint, inclusive ordinal ranges never handed out.
    """

    network: IPNetwork
    kind: PoolKind
    lease_prefix_len: int
    first: int
    last: int
    excluded: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        """How many ordinals may be leased."""
        skipped = sum(
            min(hi, self.last) - max(lo, self.first) + 1
            for lo, hi in self.excluded
            if hi >= self.first and lo <= self.last
        )
        return max(self.last - self.first + 1 - skipped, 0)

    def ordinal_of(self, address: IPAddress) -> int:
        """The ordinal of the lease that contains `address` (it must be in the pool)."""
        shift = self.network.max_prefixlen - self.lease_prefix_len
        return (int(address) - int(self.network.network_address)) >> shift

    def lease_at(self, ordinal: int) -> IPNetwork:
        """The leased prefix at `ordinal` (a /32 or /128 for one address)."""
        shift = self.network.max_prefixlen - self.lease_prefix_len
        start = int(self.network.network_address) + (ordinal << shift)
        base = type(self.network.network_address)(start)
        return ipaddress.ip_network(f"{base}/{self.lease_prefix_len}")


def parse_range(text: str) -> tuple[IPAddress, IPAddress]:
    """The first and last address of a reserved range: an address, `a-b`, or a prefix.

    Raises:
        ValueError: not one of these, mixed families, or `b` before `a`.

    Examples:
        >>> parse_range("192.0.2.10-192.0.2.20")
        (IPv4Address('192.0.2.10'), IPv4Address('192.0.2.20'))
        >>> parse_range("2001:db8::/126")
        (IPv6Address('2001:db8::'), IPv6Address('2001:db8::3'))
    """
    text = text.strip()
    if "/" in text:
        network = ipaddress.ip_network(text, strict=True)
        return network.network_address, network.broadcast_address
    lo_text, _, hi_text = text.partition("-")
    lo = ipaddress.ip_address(lo_text.strip())
    hi = ipaddress.ip_address(hi_text.strip()) if hi_text else lo
    if lo.version != hi.version or int(hi) < int(lo):
        msg = f"{text!r} is not a range from a lower to a higher address of one family"
        raise ValueError(msg)
    return lo, hi


def _merge(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def layout(
    network: IPNetwork,
    kind: PoolKind,
    *,
    lease_prefix_len: int | None = None,
    infrastructure: Collection[IPAddress] = (),
    reserved: Collection[str] = (),
) -> PoolLayout:
    """The ordinals of a pool that may be leased, and those to skip.

    For `addresses` the table at the top applies (network, IPv4 broadcast); for `routed`
    every prefix may be leased. Either way an ordinal whose lease holds an
    `infrastructure` address (gateway, resolvers) or meets a `reserved` range is skipped.

    Args:
        network: the pool's prefix.
        kind: what one lease is.
        lease_prefix_len: the routed prefix's length (`routed` only).
        infrastructure: addresses never handed out (outside the pool: ignored).
        reserved: ranges as `parse_range` reads them (outside the pool: ignored).

    Raises:
        ValueError: a routed pool whose lease length does not fit inside `network`, or a
            reserved range that does not parse.

    Examples:
        >>> from ipaddress import ip_address, ip_network
        >>> pool = layout(ip_network("192.0.2.0/29"), PoolKind.ADDRESSES,
        ...               infrastructure=[ip_address("192.0.2.1")])
        >>> (pool.first, pool.last, pool.excluded)
        (1, 6, ((1, 1),))
    """
    if kind is PoolKind.ROUTED:
        if lease_prefix_len is None or not (
            network.prefixlen < lease_prefix_len <= network.max_prefixlen
        ):
            msg = f"a routed pool {network} needs a lease prefix length longer than its own"
            raise ValueError(msg)
        length = lease_prefix_len
        first, last = 0, (1 << (length - network.prefixlen)) - 1
    else:
        length = network.max_prefixlen
        lo, hi = _assignable_range(network)
        base = int(network.network_address)
        first, last = lo - base, hi - base
    pool = PoolLayout(network, kind, length, first, min(last, MAX_ORDINAL), ())
    skip: list[tuple[int, int]] = []
    spans = [(a, a) for a in infrastructure] + [parse_range(r) for r in reserved]
    for lo_address, hi_address in spans:
        if lo_address.version != network.version:
            continue
        lo_int = max(int(lo_address), int(network.network_address))
        hi_int = min(int(hi_address), int(network.broadcast_address))
        if lo_int > hi_int:
            continue
        make = type(network.network_address)
        skip.append((pool.ordinal_of(make(lo_int)), pool.ordinal_of(make(hi_int))))
    return PoolLayout(network, kind, length, first, pool.last, _merge(skip))


def next_allowed(pool: PoolLayout, ordinal: int) -> int | None:
    """The lowest ordinal at or above `ordinal` that is inside the pool and not excluded.

    Examples:
        >>> from ipaddress import ip_network
        >>> pool = layout(ip_network("192.0.2.0/29"), PoolKind.ADDRESSES,
        ...               reserved=["192.0.2.2-192.0.2.4"])
        >>> next_allowed(pool, 0), next_allowed(pool, 2), next_allowed(pool, 7)
        (1, 5, None)
    """
    candidate = max(ordinal, pool.first)
    index = bisect.bisect_right(pool.excluded, (candidate, MAX_ORDINAL + 1)) - 1
    if index >= 0 and pool.excluded[index][1] >= candidate:
        candidate = pool.excluded[index][1] + 1
    return candidate if candidate <= pool.last else None


def service_address(lease: IPNetwork) -> IPAddress:
    """The address a service is configured with on a lease (and whose PTR it gets).

    One address is itself; a routed prefix is its `::1` (the first address after the
    Subnet-Router anycast address).

    Examples:
        >>> from ipaddress import ip_network
        >>> service_address(ip_network("2001:db8:0:5::/64"))
        IPv6Address('2001:db8:0:5::1')
    """
    if lease.num_addresses == 1:
        return lease.network_address
    return lease.network_address + 1
