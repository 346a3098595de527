"""Pure IP address management: the first free address of a prefix and reverse-DNS names.

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

Reverse zones are classful: IPv4 zones sit on octet boundaries, IPv6 zones on nibble
boundaries. RFC 2317 classless delegation is out of scope: an IPv4 network longer than
/24 maps to the /24 zone that contains it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import overload

__all__ = [
    "IPAddress",
    "IPNetwork",
    "first_free",
    "ptr_name",
    "reverse_zone_for",
    "reverse_zones_for",
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
