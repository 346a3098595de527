"""Subnets: the address pools of a location (a prefix, its gateway, resolvers, reverse zone).

A subnet is a pool of `allocation.leases`: `addresses` leases one address per service,
`routed` one prefix of `lease_prefix_len` per service (a /64 out of a /48). The checks, pure:

| field              | rule                                                             |
|--------------------|------------------------------------------------------------------|
| `cidr`             | a network address with its prefix (`192.0.2.0/24`, no host bits  |
|                    | set); `addresses`: room for a gateway and hosts (IPv4 up to /30, |
|                    | IPv6 up to /126)                                                 |
| `gateway`          | the same family; `addresses`: inside the prefix, not its network |
|                    | (or IPv4 broadcast) address; `routed`: the next hop, anywhere    |
| `dns_servers`      | 1 to 8 distinct addresses                                        |
| `reverse_zone`     | optional: derived from the prefix (`ipam.reverse_zone_for`,      |
|                    | classful); when given, that zone or one of its parents           |
| `kind`             | `addresses` or `routed`                                          |
| `lease_prefix_len` | `routed` only, and required there: longer than the prefix       |
| `reserved`         | up to 64 addresses, `a-b` ranges or prefixes of the same family, |
|                    | never handed out                                                 |
| `vlan_id`          | optional, 1 to 4094                                              |
| `cooldown_seconds` | how long a released lease waits before another order gets it     |
| `host`             | optional: the pool serves that host only (by name; it must exist)|

Addresses are stored in canonical form and the zone without its trailing dot. A subnet is
used by the hosts that draw from it and by the addresses allocated in it: it cannot be
deleted while any exists, and while addresses are allocated its prefix, kind and lease
length cannot change (running and cooling leases hold them); nor can its location while
hosts draw from it. A new gateway or resolvers apply to services installed from then on;
a change resets the pool's low-water mark, so addresses a shrunk reserved range frees are
found again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.catalogue.records import (
    Kind,
    Names,
    Problem,
    Ref,
    count_of,
    counted,
    problem,
    resolve,
)
from fluxbilling.db import schema
from fluxbilling.network import ipam

__all__ = ["KIND", "SubnetSpec", "check", "derived_zone", "normalise"]

MAX_DNS_SERVERS = 8
MAX_RESERVED = 64
MAX_VLAN = 4094


@dataclass(frozen=True, slots=True)
class SubnetSpec:
    """A subnet as an operator states it.

    Attributes:
        cidr: the natural key, `192.0.2.0/24`.
        location: the code of its location.
        gateway: the default gateway of its addresses.
        dns_servers: resolvers, in order.
        reverse_zone: None derives it from `cidr`.
        kind: `addresses` or `routed` (`ipam.PoolKind`).
        lease_prefix_len: the length of one routed lease (`routed` only).
        reserved: addresses, `a-b` ranges or prefixes never handed out.
        cooldown_seconds: how long a released lease cools down before reuse.
        vlan_id: the VLAN the pool's addresses live on (1-4094): a service's host port is
            moved to it by a switch-port job (None: no VLAN to move).
        host: the name of the one host the pool serves (None: any host of the location).
    """

    cidr: str
    location: str
    gateway: str
    dns_servers: tuple[str, ...]
    reverse_zone: str | None = None
    kind: ipam.PoolKind = ipam.PoolKind.ADDRESSES
    lease_prefix_len: int | None = None
    reserved: tuple[str, ...] = ()
    cooldown_seconds: int = 3600
    vlan_id: int | None = None
    host: str | None = None


def derived_zone(network: ipam.IPNetwork) -> str:
    """The reverse zone of `network` as stored (classful, no trailing dot).

    Example:
        >>> derived_zone(ipaddress.ip_network("192.0.2.0/24"))
        '2.0.192.in-addr.arpa'
    """
    return ipam.reverse_zone_for(network).rstrip(".")


def _network(
    cidr: str, kind: ipam.PoolKind = ipam.PoolKind.ADDRESSES
) -> tuple[ipam.IPNetwork | None, list[Problem]]:
    if "/" not in cidr:
        return None, [problem("cidr", "needs a prefix length, e.g. 192.0.2.0/24")]
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None, [problem("cidr", "is not a network in CIDR form, e.g. 192.0.2.0/24")]
    if ipaddress.ip_interface(cidr).ip != network.network_address:
        return None, [problem("cidr", f"has host bits set; the network is {network}")]
    longest = 30 if network.version == 4 else 126
    if kind is ipam.PoolKind.ADDRESSES and network.prefixlen > longest:
        return None, [
            problem("cidr", f"/{network.prefixlen} leaves no room for a gateway and hosts")
        ]
    return network, []


def _gateway(network: ipam.IPNetwork, gateway: str, kind: ipam.PoolKind) -> list[Problem]:
    try:
        address = ipaddress.ip_address(gateway)
    except ValueError:
        return [problem("gateway", "is not an IP address")]
    if kind is ipam.PoolKind.ROUTED:  # the next hop the prefixes are routed to
        if address.version != network.version:
            return [problem("gateway", f"is not an IPv{network.version} address")]
        return []
    if address.version != network.version or address not in network:
        return [problem("gateway", f"is not inside {network}")]
    if address == network.network_address:
        return [problem("gateway", f"is the network address of {network}")]
    if network.version == 4 and address == network.broadcast_address:
        return [problem("gateway", f"is the broadcast address of {network}")]
    return []


def _dns(servers: tuple[str, ...]) -> list[Problem]:
    if not 1 <= len(servers) <= MAX_DNS_SERVERS:
        return [problem("dns_servers", f"must list 1 to {MAX_DNS_SERVERS} addresses")]
    problems, seen = [], set()
    for index, server in enumerate(servers):
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            problems.append(problem(f"dns_servers[{index}]", "is not an IP address"))
            continue
        if address in seen:
            problems.append(problem(f"dns_servers[{index}]", "is listed twice"))
        seen.add(address)
    return problems


def _zone(network: ipam.IPNetwork, zone: str) -> list[Problem]:
    wanted = zone.lower().rstrip(".")
    derived = derived_zone(network)
    contains = derived == wanted or derived.endswith("." + wanted)
    if contains and wanted.count(".") >= 2:  # a zone below in-addr.arpa / ip6.arpa
        return []
    return [
        problem(
            "reverse_zone",
            f"does not contain the reverse names of {network}: use {derived} "
            "(or leave it out to derive it)",
        )
    ]


def _lease_length(network: ipam.IPNetwork, spec: SubnetSpec) -> list[Problem]:
    length = spec.lease_prefix_len
    if spec.kind is ipam.PoolKind.ADDRESSES:
        if length is not None:
            return [problem("lease_prefix_len", "is for routed pools only")]
        return []
    if length is None or not network.prefixlen < length <= network.max_prefixlen:
        return [
            problem(
                "lease_prefix_len",
                f"a routed pool needs a length from /{network.prefixlen + 1} to "
                f"/{network.max_prefixlen} (e.g. 64)",
            )
        ]
    return []


def _reserved(network: ipam.IPNetwork, reserved: tuple[str, ...]) -> list[Problem]:
    if len(reserved) > MAX_RESERVED:
        return [problem("reserved", f"lists more than {MAX_RESERVED} ranges")]
    problems = []
    for index, text in enumerate(reserved):
        try:
            first, _ = ipam.parse_range(text)
        except ValueError:
            problems.append(problem(f"reserved[{index}]", "is not an address, a-b range or prefix"))
            continue
        if first.version != network.version:
            problems.append(problem(f"reserved[{index}]", f"is not IPv{network.version}"))
    return problems


def _scope(spec: SubnetSpec) -> list[Problem]:
    problems = []
    if spec.vlan_id is not None and not 1 <= spec.vlan_id <= MAX_VLAN:
        problems.append(problem("vlan_id", f"must be from 1 to {MAX_VLAN}"))
    if not 0 <= spec.cooldown_seconds <= 2**31 - 1:
        problems.append(problem("cooldown_seconds", "must be a number of seconds from 0"))
    return problems


def check(spec: SubnetSpec) -> list[Problem]:
    """The problems of `spec` (pure; see the module docstring).

    Example:
        >>> check(SubnetSpec("192.0.2.0/24", "ams1", "192.0.2.255", ("192.0.2.53",)))
        [{'path': 'gateway', 'message': 'is the broadcast address of 192.0.2.0/24'}]
    """
    network, problems = _network(spec.cidr, spec.kind)
    problems += _dns(spec.dns_servers) + _scope(spec)
    if network is not None:
        problems += _gateway(network, spec.gateway, spec.kind)
        problems += _lease_length(network, spec) + _reserved(network, spec.reserved)
        if spec.reverse_zone is not None:
            problems += _zone(network, spec.reverse_zone)
    return problems


def normalise(spec: SubnetSpec) -> SubnetSpec:
    """`spec` as stored: canonical addresses, the reverse zone derived or tidied.

    Example:
        >>> spec = normalise(
        ...     SubnetSpec("2001:DB8::/64", "ams1", "2001:DB8::1", ("2001:4860:4860::8888",))
        ... )
        >>> spec.cidr, spec.gateway, spec.reverse_zone
        ('2001:db8::/64', '2001:db8::1', '0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa')
    """
    network = ipaddress.ip_network(spec.cidr)
    zone = spec.reverse_zone
    return replace(
        spec,
        cidr=str(network),
        gateway=str(ipaddress.ip_address(spec.gateway)),
        dns_servers=tuple(str(ipaddress.ip_address(s)) for s in spec.dns_servers),
        reverse_zone=derived_zone(network) if zone is None else zone.lower().rstrip("."),
        kind=ipam.PoolKind(spec.kind),
        reserved=tuple(spec.reserved),
    )


async def _values(names: Names, spec: SubnetSpec) -> dict[str, Any]:
    ids = await resolve(
        names,
        "subnet",
        [
            Ref("location", "location", schema.locations, "code", spec.location),
            Ref("host", "host", schema.hosts, "name", spec.host),
        ],
    )
    return {
        "cidr": spec.cidr,
        "location_id": ids["location"],
        "gateway": spec.gateway,
        "dns_servers": list(spec.dns_servers),
        "reverse_zone": spec.reverse_zone,
        "family": ipaddress.ip_network(spec.cidr).version,
        "kind": spec.kind.value,
        "lease_prefix_len": spec.lease_prefix_len,
        "reserved": list(spec.reserved),
        "cooldown_seconds": spec.cooldown_seconds,
        "vlan_id": spec.vlan_id,
        "host_id": ids["host"],
        # What is excluded may have changed: the gap query starts from the bottom again.
        "next_ordinal": 0,
    }


async def _spec(names: Names, row: Any) -> SubnetSpec:
    location = await names.key_of(schema.locations, "code", row.location_id)
    return SubnetSpec(
        cidr=row.cidr,
        location=location or "",
        gateway=row.gateway,
        dns_servers=tuple(row.dns_servers or ()),
        reverse_zone=row.reverse_zone,
        kind=ipam.PoolKind(row.kind),
        lease_prefix_len=row.lease_prefix_len,
        reserved=tuple(row.reserved or ()),
        cooldown_seconds=row.cooldown_seconds,
        vlan_id=row.vlan_id,
        host=await names.key_of(schema.hosts, "name", row.host_id),
    )


async def _count(conn: AsyncConnection, table: sa.Table, row_id: int) -> int:
    query = sa.select(sa.func.count()).where(table.c.subnet_id == row_id)
    return int((await conn.execute(query)).scalar_one())


async def _guard(
    conn: AsyncConnection, row: Any, old: SubnetSpec, new: SubnetSpec
) -> list[Problem]:
    refusals = []
    for field in ("cidr", "kind", "lease_prefix_len"):
        if getattr(old, field) == getattr(new, field):
            continue
        addresses = await _count(conn, schema.ip_addresses, row.id)
        if addresses:
            refusals.append(
                problem(field, f"{count_of(addresses, 'lease')} in it (leased or cooling)")
            )
    if old.location != new.location:
        hosts = await _count(conn, schema.hosts, row.id)
        if hosts:
            refusals.append(
                problem("location", f"{count_of(hosts, 'host')} of {old.location} draw from it")
            )
    return refusals


KIND: Kind[SubnetSpec] = Kind(
    entity="subnet",
    table=schema.subnets,
    key="cidr",
    check=check,
    normalise=normalise,
    to_values=_values,
    to_spec=_spec,
    users=counted((schema.hosts.c.subnet_id, "host"), (schema.ip_addresses.c.subnet_id, "lease")),
    guard=_guard,
)
"""Subnets, for `records`."""
