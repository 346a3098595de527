"""A product's firewall policy: what a service of that product lets in and out, as typed data.

A policy is stated per product (`products.firewall`, JSON; null means the defaults) and
turned into the ports a given service opens by `open_ports(policy, service_type, options)`:

```
the service type's defaults           vps, baremetal: tcp/22
                                      shared: ftp, ssh, smtp(s), http(s), pop3(s), imap(s), cPanel
                                      game: every port of options.port_range, tcp and udp
+ policy.open_ports                   the operator adds ports
- policy.closed_ports                 the operator removes ports (exactly as listed)
```

and the rest of the policy says how traffic is limited:

- `block_smtp`: reject outbound TCP 25 (the common hosting abuse rule: a fresh VPS cannot
  send mail directly; submission ports 465/587 stay open). A *reject*, so mail software fails
  fast instead of timing out.
- `icmp_per_second`: IPv4 ICMP accepted up to this rate (null: unlimited). ICMPv6 neighbour
  discovery is always accepted, unlimited: IPv6 breaks without it.
- `new_connections_per_minute`: new inbound connections per source address (null: unlimited).
- `anti_spoofing`: the service may send only from its own addresses (IPv4 and IPv6; IPv6
  link-local and the unspecified address stay allowed for neighbour discovery).
- `enabled`: false turns the baseline off for the product (nothing is rendered or applied).

A port is `tcp/22` or a range `udp/27015-27030`: the one text form the API, the catalogue file
and the stored JSON use. `parse` checks every field and names the bad one
(`firewall.open_ports[1]`); nothing unchecked reaches a renderer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fluxbilling import errors

__all__ = [
    "DEFAULT_PORTS",
    "FIELDS",
    "PORT_PATTERN",
    "SMTP_PORT",
    "FirewallPolicy",
    "PortRange",
    "Transport",
    "open_ports",
    "parse",
    "parse_port",
    "problems",
    "to_json",
]

SMTP_PORT = 25
PORT_PATTERN = r"^(tcp|udp)/([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?$"
"""The text form of a port or port range: `tcp/22`, `udp/27015-27030`."""
_PORT = re.compile(PORT_PATTERN)
_GAME_PORT = re.compile(r"^([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?$")
_RATE_MAX = 1_000_000


class Transport(StrEnum):
    """The transport protocol a port belongs to."""

    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True, order=True)
class PortRange:
    """Ports `first`..`last` (inclusive) of one transport; `first == last` for one port."""

    protocol: Transport
    first: int
    last: int

    def __post_init__(self) -> None:
        """Refuse a range no firewall could hold (a renderer trusts what it is given)."""
        if self.protocol not in set(Transport):
            raise errors.InvalidSettings(f"{self.protocol!r} is not tcp or udp")
        for value in (self.first, self.last):
            if type(value) is not int or not 1 <= value <= 65535:
                raise errors.InvalidSettings(f"port {value!r} is not within 1-65535")
        if self.first > self.last:
            raise errors.InvalidSettings(
                f"port range {self.first}-{self.last} ends before it starts"
            )

    def __str__(self) -> str:
        """The text form: `tcp/22` or `udp/27015-27030`."""
        span = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.protocol}/{span}"


@dataclass(frozen=True, slots=True)
class FirewallPolicy:
    """A product's firewall policy (see the module docstring)."""

    enabled: bool = True
    open_ports: tuple[PortRange, ...] = ()
    closed_ports: tuple[PortRange, ...] = ()
    block_smtp: bool = True
    icmp_per_second: int | None = 10
    new_connections_per_minute: int | None = 120
    anti_spoofing: bool = True


FIELDS = tuple(FirewallPolicy.__dataclass_fields__)
"""The policy's fields, as its JSON keys."""


def _tcp(*ports: int) -> tuple[PortRange, ...]:
    return tuple(PortRange(Transport.TCP, port, port) for port in ports)


DEFAULT_PORTS: Mapping[str, tuple[PortRange, ...]] = {
    "vps": _tcp(22),
    "baremetal": _tcp(22),
    # FTP, SSH, SMTP, HTTP, POP3, IMAP, HTTPS, SMTPS, submission, IMAPS, POP3S, and cPanel
    # and webmail over TLS. FTP's passive range is the panel's to open.
    "shared": _tcp(21, 22, 25, 80, 110, 143, 443, 465, 587, 993, 995, 2083, 2096),
    "game": (),
}
"""The ports each service type opens before the policy adds or removes any."""


def parse_port(text: str) -> PortRange:
    """A port from its text form.

    Raises:
        errors.InvalidSettings: not `tcp|udp/<port>[-<port>]` with ports 1-65535, first <= last.

    Example:
        >>> str(parse_port("udp/27015-27030"))
        'udp/27015-27030'
    """
    match = _PORT.match(text) if isinstance(text, str) else None
    if match is None:
        raise errors.InvalidSettings(f"{text!r} is not a port like tcp/22 or udp/27015-27030")
    first = int(match.group(2))
    last = int(match.group(3) or first)
    return PortRange(Transport(match.group(1)), *_span(first, last, text))


def _span(first: int, last: int, text: str) -> tuple[int, int]:
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        raise errors.InvalidSettings(f"{text!r}: ports are 1-65535")
    if first > last:
        raise errors.InvalidSettings(f"{text!r}: the range ends before it starts")
    return first, last


def _ports(value: Any, where: str, found: list[dict[str, str]]) -> tuple[PortRange, ...]:
    if not isinstance(value, list | tuple):
        found.append({"path": where, "message": "must be a list of ports like tcp/22"})
        return ()
    if len(value) > 256:
        found.append({"path": where, "message": "at most 256 ports"})
        return ()
    ports = set()
    for index, item in enumerate(value):
        try:
            ports.add(parse_port(item))
        except errors.InvalidSettings as exc:
            found.append({"path": f"{where}[{index}]", "message": exc.message})
    return tuple(sorted(ports))


def _flag(value: Any, where: str, found: list[dict[str, str]]) -> bool:
    if not isinstance(value, bool):
        found.append({"path": where, "message": "must be true or false"})
        return False
    return value


def _rate(value: Any, where: str, found: list[dict[str, str]]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _RATE_MAX:
        found.append({"path": where, "message": f"must be null or an integer 1-{_RATE_MAX}"})
        return None
    return value


def _parse(data: Any, prefix: str) -> tuple[FirewallPolicy, list[dict[str, str]]]:
    found: list[dict[str, str]] = []
    if data is None:
        return FirewallPolicy(), found
    if not isinstance(data, Mapping):
        return FirewallPolicy(), [{"path": prefix, "message": "must be a mapping"}]
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    found += [{"path": f"{prefix}.{key}", "message": "is not a policy field"} for key in unknown]
    default = FirewallPolicy()

    def at(name: str) -> str:
        return f"{prefix}.{name}"

    policy = FirewallPolicy(
        enabled=_flag(data.get("enabled", default.enabled), at("enabled"), found),
        open_ports=_ports(data.get("open_ports", ()), at("open_ports"), found),
        closed_ports=_ports(data.get("closed_ports", ()), at("closed_ports"), found),
        block_smtp=_flag(data.get("block_smtp", default.block_smtp), at("block_smtp"), found),
        icmp_per_second=_rate(
            data.get("icmp_per_second", default.icmp_per_second), at("icmp_per_second"), found
        ),
        new_connections_per_minute=_rate(
            data.get("new_connections_per_minute", default.new_connections_per_minute),
            at("new_connections_per_minute"),
            found,
        ),
        anti_spoofing=_flag(
            data.get("anti_spoofing", default.anti_spoofing), at("anti_spoofing"), found
        ),
    )
    return policy, found


def problems(data: Any, prefix: str = "firewall") -> list[dict[str, str]]:
    """What is wrong with a policy's JSON form, each problem named by its path (pure).

    Example:
        >>> problems({"open_ports": ["tcp/22", "tcp/99999"]})
        [{'path': 'firewall.open_ports[1]', 'message': "'tcp/99999': ports are 1-65535"}]
    """
    return _parse(data, prefix)[1]


def parse(data: Any, prefix: str = "firewall") -> FirewallPolicy:
    """The policy of its JSON form (None: the defaults); missing fields take their defaults.

    Raises:
        errors.InvalidSettings: a field is wrong; `details.problems` names each one.
    """
    policy, found = _parse(data, prefix)
    if found:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in found)
        raise errors.InvalidSettings(summary, problems=found)
    return policy


def to_json(policy: FirewallPolicy) -> dict[str, Any]:
    """The policy's canonical JSON form (every field; ports sorted, in text form)."""
    return {
        "enabled": policy.enabled,
        "open_ports": [str(port) for port in sorted(policy.open_ports)],
        "closed_ports": [str(port) for port in sorted(policy.closed_ports)],
        "block_smtp": policy.block_smtp,
        "icmp_per_second": policy.icmp_per_second,
        "new_connections_per_minute": policy.new_connections_per_minute,
        "anti_spoofing": policy.anti_spoofing,
    }


def _game_ports(options: Mapping[str, Any]) -> tuple[PortRange, ...]:
    """Every port of `options.port_range` (Pterodactyl's form: "25565", "25570-25580"), on
    TCP and UDP: game servers speak either. Entries that are not ports are skipped, since the
    plugin's settings schema owns that option; an empty list means the panel picks."""
    found: list[PortRange] = []
    entries = options.get("port_range")
    for entry in entries if isinstance(entries, list) else ():
        match = _GAME_PORT.match(entry) if isinstance(entry, str) else None
        if match is None:
            continue
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if 1 <= first <= last <= 65535:
            found += [PortRange(t, first, last) for t in Transport]
    return tuple(found)


def open_ports(
    policy: FirewallPolicy, service_type: str, options: Mapping[str, Any] | None = None
) -> tuple[PortRange, ...]:
    """The inbound ports a service opens: its type's defaults, plus and minus the policy's.

    Args:
        policy: the product's policy.
        service_type: `vps`, `baremetal`, `shared` or `game`.
        options: the product's options (a game server's `port_range`).

    Returns:
        Sorted, without duplicates.

    Example:
        >>> policy = FirewallPolicy(open_ports=(parse_port("tcp/80"),))
        >>> [str(p) for p in open_ports(policy, "vps")]
        ['tcp/22', 'tcp/80']
    """
    defaults: Iterable[PortRange] = DEFAULT_PORTS.get(service_type, ())
    if service_type == "game":
        defaults = _game_ports(options or {})
    closed = set(policy.closed_ports)
    return tuple(sorted({*defaults, *policy.open_ports} - closed))
