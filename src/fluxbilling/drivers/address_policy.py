"""The upstream address policy: which addresses a connection may reach (pure decisions).

Every address a connection's host resolves to is classified once, and the request goes to
the first address the policy permits (`drivers.address_guard` connects to exactly that one,
so a second DNS answer cannot swap it):

| kind       | ranges                                                        | reached              |
|------------|---------------------------------------------------------------|----------------------|
| metadata   | 169.254.169.254, 100.100.100.200, 192.0.0.192, fd00:ec2::254  | never                |
| link-local | 169.254.0.0/16, fe80::/10                                     | never                |
| unspecified| 0.0.0.0/8, ::                                                 | never                |
| multicast  | 224.0.0.0/4, ff00::/8                                         | never                |
| reserved   | 240.0.0.0/4 (and broadcast), IPv4-compatible ::/96, Teredo, other non-global space | never |
| loopback   | 127.0.0.0/8, ::1                                              | only where allowed   |
| private    | 10/8, 172.16/12, 192.168/16, fc00::/7                         | only where allowed   |
| shared     | 100.64.0.0/10 (carrier-grade NAT, also overlay VPNs)          | only where allowed   |
| public     | everything else                                               | always               |

"Allowed" means the connection's `allowed_networks` (set by an admin, explicitly) contain the
address; each of those networks must lie inside a loopback, private or shared range, so an
allowance can never open metadata, link-local or public space to anything new. IPv6 forms
that carry an IPv4 address (`::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
judged by the IPv4 address they carry, and IPv4 literals are read the way `inet_aton` reads
them (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1` are all 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from urllib.parse import unquote

__all__ = [
    "ALLOWABLE_RANGES",
    "AddressKind",
    "IPAddress",
    "IPNetwork",
    "Verdict",
    "check",
    "classify",
    "is_loopback_name",
    "literal",
    "parse_allowed",
    "static_verdict",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class AddressKind(StrEnum):
    """What an address is, as far as the policy cares."""

    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    SHARED = "shared"
    METADATA = "metadata"
    LINK_LOCAL = "link-local"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"

    @property
    def never(self) -> bool:
        """Whether no allowance can ever open this kind."""
        return self not in _ALLOWABLE_KINDS and self is not AddressKind.PUBLIC

    @property
    def label(self) -> str:
        """The kind in a sentence ("a loopback address")."""
        return _LABELS[self]


_ALLOWABLE_KINDS = frozenset({AddressKind.LOOPBACK, AddressKind.PRIVATE, AddressKind.SHARED})
_LABELS = {
    AddressKind.PUBLIC: "a public address",
    AddressKind.LOOPBACK: "a loopback address",
    AddressKind.PRIVATE: "a private address",
    AddressKind.SHARED: "a shared (carrier-grade NAT) address",
    AddressKind.METADATA: "a cloud metadata address",
    AddressKind.LINK_LOCAL: "a link-local address",
    AddressKind.UNSPECIFIED: "an unspecified address",
    AddressKind.MULTICAST: "a multicast address",
    AddressKind.RESERVED: "a reserved address",
}


def _table(*rows: tuple[str, AddressKind]) -> tuple[tuple[IPNetwork, AddressKind], ...]:
    return tuple((ip_network(cidr), kind) for cidr, kind in rows)


# Order matters: the first matching row decides (metadata addresses sit inside other ranges).
_RANGES = _table(
    ("169.254.169.254/32", AddressKind.METADATA),  # AWS, GCP, Azure, OpenStack, DigitalOcean
    ("169.254.170.2/32", AddressKind.METADATA),  # AWS ECS task credentials
    ("100.100.100.200/32", AddressKind.METADATA),  # Alibaba Cloud
    ("192.0.0.192/32", AddressKind.METADATA),  # Oracle Cloud (legacy)
    ("fd00:ec2::254/128", AddressKind.METADATA),  # AWS over IPv6
    ("0.0.0.0/8", AddressKind.UNSPECIFIED),
    ("::/128", AddressKind.UNSPECIFIED),
    ("127.0.0.0/8", AddressKind.LOOPBACK),
    ("::1/128", AddressKind.LOOPBACK),
    ("169.254.0.0/16", AddressKind.LINK_LOCAL),
    ("fe80::/10", AddressKind.LINK_LOCAL),
    ("224.0.0.0/4", AddressKind.MULTICAST),
    ("ff00::/8", AddressKind.MULTICAST),
    ("240.0.0.0/4", AddressKind.RESERVED),  # and 255.255.255.255
    ("::/96", AddressKind.RESERVED),  # IPv4-compatible, deprecated
    ("2001::/32", AddressKind.RESERVED),  # Teredo: an obfuscated IPv4 inside
    ("fec0::/10", AddressKind.RESERVED),  # site-local, deprecated
    ("10.0.0.0/8", AddressKind.PRIVATE),
    ("172.16.0.0/12", AddressKind.PRIVATE),
    ("192.168.0.0/16", AddressKind.PRIVATE),
    ("fc00::/7", AddressKind.PRIVATE),
    ("100.64.0.0/10", AddressKind.SHARED),
)

ALLOWABLE_RANGES: tuple[IPNetwork, ...] = tuple(
    network for network, kind in _RANGES if kind in _ALLOWABLE_KINDS
)
"""The ranges an admin may allow for a connection; `allowed_networks` must lie inside them."""

_MAPPED = ip_network("::ffff:0:0/96")
_NAT64 = ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ip_network("2002::/16")


def _carried(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if address in _MAPPED or address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def _effective(address: IPAddress) -> IPAddress:
    """The address the policy judges: an IPv6 form of an IPv4 address counts as that IPv4."""
    if isinstance(address, IPv6Address):
        carried = _carried(address)
        if carried is not None:
            return carried
    return address


def classify(address: IPAddress) -> AddressKind:
    """The kind of `address` (IPv6 forms of IPv4 addresses are judged as that IPv4).

    Examples:
        >>> from ipaddress import ip_address
        >>> classify(ip_address("::ffff:127.0.0.1"))
        <AddressKind.LOOPBACK: 'loopback'>
        >>> classify(ip_address("93.184.215.14"))
        <AddressKind.PUBLIC: 'public'>
    """
    address = _effective(address)
    for network, kind in _RANGES:
        if address.version == network.version and address in network:
            return kind
    # Documentation, benchmarking and other special-purpose space is nobody's panel.
    return AddressKind.PUBLIC if address.is_global else AddressKind.RESERVED


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer for one host.

    Attributes:
        address: where to connect (the first permitted address); `None` when refused.
        kind: the kind of `address`, or of the first refused address.
        reason: one sentence for errors and the operator ("127.0.0.1 is a loopback ...").
    """

    address: IPAddress | None
    kind: AddressKind | None
    reason: str

    @property
    def allowed(self) -> bool:
        """Whether there is an address to connect to."""
        return self.address is not None


def _permitted(address: IPAddress, kind: AddressKind, allowed: Sequence[IPNetwork]) -> bool:
    if kind is AddressKind.PUBLIC:
        return True
    if kind.never:
        return False
    effective = _effective(address)
    return any(effective.version == network.version and effective in network for network in allowed)


def check(addresses: Sequence[IPAddress], allowed: Sequence[IPNetwork] = ()) -> Verdict:
    """Decide where a host's request may go, given the addresses its name resolved to.

    Args:
        addresses: the resolved addresses, in the resolver's order of preference.
        allowed: the connection's `allowed_networks` (already checked by `parse_allowed`).

    Returns:
        The first permitted address, or a refusal naming the first address and why.

    Examples:
        >>> from ipaddress import ip_address, ip_network
        >>> check([ip_address("127.0.0.1")]).reason
        "127.0.0.1 is a loopback address: refused unless the connection's allowed_networks include it"
        >>> check([ip_address("127.0.0.1")], [ip_network("127.0.0.0/8")]).allowed
        True
        >>> check([ip_address("169.254.169.254")], [ip_network("169.254.0.0/16")]).allowed
        False
    """
    if not addresses:
        return Verdict(None, None, "the name resolves to no address")
    for address in addresses:
        kind = classify(address)
        if _permitted(address, kind, allowed):
            return Verdict(address, kind, f"{address} is {kind.label}")
    return _refusal(str(addresses[0]), classify(addresses[0]))


_UNLESS_ALLOWED = "refused unless the connection's allowed_networks include it"


def _refusal(subject: str, kind: AddressKind) -> Verdict:
    why = "never reached" if kind.never else _UNLESS_ALLOWED
    return Verdict(None, kind, f"{subject} is {kind.label}: {why}")


def _ipv4_part(part: str) -> int | None:
    """One dot-separated part of an `inet_aton` literal: decimal, octal (0…) or hex (0x…)."""
    if part[:2].lower() == "0x":
        digits, base, allowed = part[2:], 16, "0123456789abcdefABCDEF"
    elif len(part) > 1 and part[0] == "0":
        digits, base, allowed = part[1:], 8, "01234567"
    else:
        digits, base, allowed = part, 10, "0123456789"
    if not digits or any(c not in allowed for c in digits):
        return None
    return int(digits, base)


def _ipv4_literal(host: str) -> IPv4Address | None:
    parts = host.split(".")
    if len(parts) > 4:
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    return IPv4Address(sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last)


def literal(host: str) -> IPAddress | None:
    """The address a host *is*, when it is an address literal in any form a resolver accepts.

    Examples:
        >>> literal("2130706433"), literal("0x7f.1"), literal("[::1]")
        (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'), IPv6Address('::1'))
        >>> literal("panel.example.com") is None
        True
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return IPv6Address(unquote(text))
        except ValueError:
            return None
    return _ipv4_literal(text)


def is_loopback_name(host: str) -> bool:
    """Whether `host` is `localhost` or a name under it (always loopback, RFC 6761)."""
    name = host.strip().rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


_LOCALHOST: tuple[IPAddress, ...] = (IPv4Address("127.0.0.1"), IPv6Address("::1"))


def static_verdict(host: str, allowed: Sequence[IPNetwork] = ()) -> Verdict | None:
    """The verdict for a host known without asking DNS (a literal, `localhost`), else `None`.

    Used when a connection is saved, so an address the policy refuses is a 422 at once.
    """
    if is_loopback_name(host):
        verdict = check(_LOCALHOST, allowed)
        return verdict if verdict.allowed else _refusal(host, AddressKind.LOOPBACK)
    address = literal(host)
    return None if address is None else check([address], allowed)


def parse_allowed(values: Iterable[str]) -> tuple[list[IPNetwork], list[tuple[int, str]]]:
    """Parse a connection's `allowed_networks`: the networks, and problems by list index.

    Each entry is an address or a network in CIDR form, lying inside a loopback, private or
    shared range (see `ALLOWABLE_RANGES`); anything wider or elsewhere is a problem.

    Examples:
        >>> parse_allowed(["127.0.0.1", "10.20.0.0/16"])[0]
        [IPv4Network('127.0.0.1/32'), IPv4Network('10.20.0.0/16')]
        >>> parse_allowed(["0.0.0.0/0"])[1]
        [(0, '0.0.0.0/0 is not inside a loopback, private or shared range')]
    """
    networks: list[IPNetwork] = []
    problems: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        try:
            network = ip_network(value.strip(), strict=False)
        except ValueError:
            problems.append((index, f"{value!r} is not an IP address or network (CIDR)"))
            continue
        if not any(
            network.version == outer.version and network.subnet_of(outer)  # type: ignore[arg-type]
            for outer in ALLOWABLE_RANGES
        ):
            problems.append((index, f"{network} is not inside a loopback, private or shared range"))
            continue
        networks.append(network)
    return networks, problems
