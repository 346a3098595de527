"""The baseline firewall policy of a hosted service's port, as plain rule data.

`baseline_rules(address, ...)` decides *which* rules a new VPS port gets; an adapter
(nftables on the hypervisor, a panel's firewall API) translates them. Rules are evaluated
in order, **first match wins**, separately per direction:

```
in   established/related                 accept   replies to the guest's own traffic
in   tcp <ssh_port>                      accept
in   icmp (IPv4) / icmpv6 (IPv6)         accept   icmpv6 always: NDP breaks without it
in   <open_ports>                        accept
in   any                                 drop     default deny inbound
out  tcp 25                              reject   outbound SMTP blocked by default
out  any from <address>                  accept
out  any                                 drop     anti-spoof: any other source address
```

Blocking outbound SMTP (port 25) is the common hosting abuse rule: a fresh VPS cannot
send mail directly (spam from compromised or throw-away servers ruins the provider's IP
reputation); submission ports 465/587 stay open, and an operator lifts the block per
customer (`block_smtp=False`). It is a *reject*, so mail software fails fast instead of
timing out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fluxbilling import errors

__all__ = [
    "SMTP_PORT",
    "Action",
    "Direction",
    "FirewallRule",
    "PortSpec",
    "Protocol",
    "State",
    "Transport",
    "baseline_rules",
]

Direction = Literal["in", "out"]
Protocol = Literal["any", "tcp", "udp", "icmp", "icmpv6"]
Action = Literal["accept", "drop", "reject"]
State = Literal["established"]
Transport = Literal["tcp", "udp"]
PortSpec = int | tuple[Transport, int]
SMTP_PORT = 25


@dataclass(frozen=True, slots=True)
class FirewallRule:
    """One rule of a service port's policy.

    Attributes:
        direction: `in` (towards the service) or `out` (from it).
        protocol: `any`, `tcp`, `udp`, `icmp` or `icmpv6`.
        port: destination port for `tcp`/`udp`; None means every port.
        source: source prefix in CIDR form; None means any source.
        action: `accept`, `drop` or `reject`.
        comment: why the rule exists (shown to operators).
        state: `established` to match only packets of known connections; None for all.
    """

    direction: Direction
    protocol: Protocol
    port: int | None
    source: str | None
    action: Action
    comment: str
    state: State | None = None


def _check_port(port: int, what: str) -> int:
    if isinstance(port, bool) or not 1 <= port <= 65535:
        raise errors.InvalidSettings(f"{what} {port!r} is not a port number (1-65535)")
    return port


def _inbound_open(open_ports: Iterable[PortSpec]) -> list[FirewallRule]:
    wanted: set[tuple[Transport, int]] = set()
    for entry in open_ports:
        if isinstance(entry, int):
            wanted.add(("tcp", _check_port(entry, "open port")))
            continue
        protocol, port = entry
        if protocol not in ("tcp", "udp"):
            raise errors.InvalidSettings(f"open port protocol {protocol!r} is not tcp or udp")
        wanted.add((protocol, _check_port(port, "open port")))
    return [
        FirewallRule("in", protocol, port, None, "accept", f"customer-opened {protocol}/{port}")
        for protocol, port in sorted(wanted, key=lambda item: (item[1], item[0]))
    ]


def baseline_rules(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    *,
    ssh_port: int = 22,
    allow_icmp: bool = True,
    open_ports: Iterable[PortSpec] = (),
    block_smtp: bool = True,
) -> tuple[FirewallRule, ...]:
    """The standard policy for a service port whose address is `address`.

    Args:
        address: the service address; the only source address allowed out.
        ssh_port: the SSH port to open inbound.
        allow_icmp: accept inbound ICMP (IPv4). ICMPv6 is always accepted for IPv6
            addresses because neighbour discovery and path-MTU discovery need it.
        open_ports: extra inbound ports; an int is TCP, `("udp", 53)` names the protocol.
            Duplicates collapse; output is sorted by port.
        block_smtp: reject outbound TCP 25 (see the module docstring).

    Returns:
        The ordered rules, inbound first (first match wins per direction).

    Raises:
        errors.InvalidSettings: a port is outside 1-65535 or a protocol is unknown.

    Examples:
        >>> from ipaddress import ip_address
        >>> baseline_rules(ip_address("192.0.2.10"))[-1].comment
        'anti-spoof: drop egress from any other source address'
    """
    _check_port(ssh_port, "ssh port")
    rules = [
        FirewallRule(
            "in", "any", None, None, "accept", "replies to the guest's connections", "established"
        ),
        FirewallRule("in", "tcp", ssh_port, None, "accept", "ssh"),
    ]
    if address.version == 6:
        rules.append(FirewallRule("in", "icmpv6", None, None, "accept", "icmpv6 (NDP, PMTUD)"))
    elif allow_icmp:
        rules.append(FirewallRule("in", "icmp", None, None, "accept", "icmp"))
    rules.extend(
        rule
        for rule in _inbound_open(open_ports)
        if (rule.protocol, rule.port) != ("tcp", ssh_port)
    )
    rules.append(FirewallRule("in", "any", None, None, "drop", "default deny inbound"))
    if block_smtp:
        rules.append(
            FirewallRule(
                "out", "tcp", SMTP_PORT, None, "reject", "outbound SMTP blocked by default"
            )
        )
    own = ipaddress.ip_network(address)
    rules.append(FirewallRule("out", "any", None, str(own), "accept", "egress from the service"))
    rules.append(
        FirewallRule(
            "out",
            "any",
            None,
            None,
            "drop",
            "anti-spoof: drop egress from any other source address",
        )
    )
    return tuple(rules)
