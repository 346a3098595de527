"""Pure rendering of a firewall policy as an nftables ruleset for the guest itself.

`render(policy, ports, ipv4=…, ipv6=…)` returns the text `nft -f` loads (Debian's
`/etc/nftables.conf`, which `nftables.service` loads again at every boot) and its sha256.
One `inet` table, `fluxbilling`, so IPv4 and IPv6 share the rules; it is declared, deleted
and declared again, so loading the file twice replaces our table and leaves other tables
(a container runtime's, say) alone:

```
input    policy drop      established/related; invalid dropped; loopback;
                          ICMPv6 neighbour discovery (always, unlimited);
                          ICMP and other ICMPv6 up to policy.icmp_per_second;
                          new connections over policy.new_connections_per_minute per
                          source address dropped (a dynamic set per family);
                          the open ports
forward  policy drop      the guest is not a router
output   policy accept    loopback; neighbour discovery (link-local sources);
                          anti-spoofing: a source outside the service's addresses dropped;
                          TCP 25 rejected with a reset (policy.block_smtp)
```

Nothing a caller passes is pasted into the text unchecked: addresses are parsed by
`ipaddress` (a string that is not one address or network is refused), ports are
`firewall.PortRange` values (integers checked when made), every name and comment is a
constant of this module. The output is deterministic: the same input renders the same
bytes (sorted, deduplicated sets), so its hash says what was applied.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from fluxbilling import errors
from fluxbilling.network import firewall

__all__ = ["CONF_PATH", "TABLE", "Ruleset", "render"]

TABLE = "fluxbilling"
CONF_PATH = "/etc/nftables.conf"
"""Where Debian's (and Ubuntu's) `nftables.service` reads its ruleset at boot."""

_NDP = "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect"
_NDP_OUT = "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert"
_LINK_LOCAL_V6 = (ipaddress.IPv6Network("::/128"), ipaddress.IPv6Network("fe80::/10"))
"""IPv6 sources a host needs before and besides its own addresses: duplicate address
detection (unspecified source) and neighbour discovery (link-local)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A rendered ruleset: the text for `nft -f` and its sha256 (hex)."""

    text: str
    sha256: str


def _networks(values: Iterable[str], version: int, what: str) -> list[Network]:
    found: set[Network] = set()
    for value in values:
        if not isinstance(value, str) or value != value.strip() or not value:
            raise errors.InvalidSettings(f"{what} address {value!r} is not an address")
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise errors.InvalidSettings(f"{what} address {value!r} is not an address") from exc
        if network.version != version:
            raise errors.InvalidSettings(f"{what} address {value!r} is not IPv{version}")
        found.add(network)
    return _collapsed(found)


def _collapsed(networks: Iterable[Network]) -> list[Network]:
    """Sorted, with a network inside another (or adjacent ones) merged: nftables refuses
    overlapping elements in one interval set."""
    listed = list(networks)
    v4 = [n for n in listed if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in listed if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def _element(network: Network) -> str:
    """A set element: a host as its address, a network in CIDR form."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return network.with_prefixlen


def _set(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def _port(port: firewall.PortRange) -> str:
    first, last = int(port.first), int(port.last)
    if not 1 <= first <= last <= 65535:
        raise errors.InvalidSettings(f"port {port} is not a port or range within 1-65535")
    return str(first) if first == last else f"{first}-{last}"


def _dynamic_set(name: str, kind: str) -> list[str]:
    return [
        f"\tset {name} {{",
        f"\t\ttype {kind}",
        "\t\tflags dynamic",
        "\t\ttimeout 1m",
        "\t\tsize 65536",
        "\t}",
    ]


def _input(policy: firewall.FirewallPolicy, ports: Iterable[firewall.PortRange]) -> list[str]:
    rules = [
        "ct state established,related accept",
        "ct state invalid drop",
        'iifname "lo" accept',
        f'icmpv6 type {_set([_NDP])} accept comment "neighbour discovery"',
    ]
    icmp = policy.icmp_per_second
    limit = "" if icmp is None else f"limit rate {int(icmp)}/second burst {2 * int(icmp)} packets "
    rules += [f"meta l4proto icmp {limit}accept", f"meta l4proto ipv6-icmp {limit}accept"]
    per_minute = policy.new_connections_per_minute
    if per_minute is not None:
        rate = f"limit rate over {int(per_minute)}/minute"
        rules += [
            f"ct state new add @flood4 {{ ip saddr {rate} }} drop",
            f"ct state new add @flood6 {{ ip6 saddr {rate} }} drop",
        ]
    for transport in firewall.Transport:
        chosen = sorted({_port(p) for p in ports if p.protocol == transport}, key=_port_key)
        if chosen:
            rules.append(f"{transport} dport {_set(chosen)} accept")
    return rules


def _port_key(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def _output(policy: firewall.FirewallPolicy, ipv4: list[Network], ipv6: list[Network]) -> list[str]:
    rules = ['oifname "lo" accept']
    if policy.anti_spoofing:
        rules.append(f'icmpv6 type {_set([_NDP_OUT])} accept comment "neighbour discovery"')
        if ipv4:
            rules.append(f"ip saddr != {_set(_element(n) for n in ipv4)} drop")
        else:
            rules.append("meta nfproto ipv4 drop")
        own6 = _collapsed([*_LINK_LOCAL_V6, *ipv6])
        rules.append(f"ip6 saddr != {_set(_element(n) for n in own6)} drop")
    if policy.block_smtp:
        rules.append(
            f'tcp dport {firewall.SMTP_PORT} reject with tcp reset comment "outbound SMTP blocked"'
        )
    return rules


def _chain(name: str, hook: str, verdict: str, rules: list[str]) -> list[str]:
    return [
        f"\tchain {name} {{",
        f"\t\ttype filter hook {hook} priority filter; policy {verdict};",
        *(f"\t\t{rule}" for rule in rules),
        "\t}",
    ]


def render(
    policy: firewall.FirewallPolicy,
    ports: Iterable[firewall.PortRange],
    *,
    ipv4: Iterable[str] = (),
    ipv6: Iterable[str] = (),
) -> Ruleset:
    """The nftables ruleset enforcing `policy` on a guest whose addresses are given.

    Args:
        policy: the product's policy (`firewall.parse`); a disabled one is refused.
        ports: the inbound ports to open (`firewall.open_ports`).
        ipv4: the service's IPv4 addresses or routed prefixes (`192.0.2.10`, `198.51.100.0/29`).
        ipv6: its IPv6 addresses or routed prefixes (`2001:db8:1:2::/64`).

    Returns:
        The text and its sha256.

    Raises:
        errors.InvalidSettings: an address is not one of its family, or the policy is off.

    Example:
        >>> policy = firewall.FirewallPolicy()
        >>> ruleset = render(policy, firewall.open_ports(policy, "vps"), ipv4=["192.0.2.10"])
        >>> "tcp dport { 22 } accept" in ruleset.text
        True
    """
    if not policy.enabled:
        raise errors.InvalidSettings("the firewall policy is disabled: there is nothing to render")
    own4 = _networks(ipv4, 4, "IPv4")
    own6 = _networks(ipv6, 6, "IPv6")
    lines = [
        "#!/usr/sbin/nft -f",
        "# The FluxBilling firewall baseline of this server (rendered; a reinstall rewrites it).",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
    ]
    if policy.new_connections_per_minute is not None:
        lines += _dynamic_set("flood4", "ipv4_addr") + _dynamic_set("flood6", "ipv6_addr")
    lines += _chain("input", "input", "drop", _input(policy, ports))
    lines += _chain("forward", "forward", "drop", [])
    lines += _chain("output", "output", "accept", _output(policy, own4, own6))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    return Ruleset(text, hashlib.sha256(text.encode("utf-8")).hexdigest())
