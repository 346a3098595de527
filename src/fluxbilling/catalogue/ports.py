"""Ports: the network interfaces of hosts, and of devices we only name (switches).

A port's natural key is `<owner>/<name>` (`kvm-ams1-01/eth0`, `sw1/ge-0/0/1`), its owner
either a host of the catalogue (`host`) or a device named only (`device`), exactly one.
It has a kind (`1000base-t`, `10gbase-x-sfpp`, `virtual`, ... as NetBox names interface
types), and optionally a MAC address and a speed. A port in a cable cannot be deleted or
moved to another owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, Ref, problem, resolve
from fluxbilling.db import schema

__all__ = ["KIND", "PortSpec", "check"]

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_KIND = re.compile(r"[a-z0-9][a-z0-9.+\-]{0,31}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}")


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A port as an operator states it.

    Attributes:
        port: the natural key, `<host or device>/<name>`.
        kind: the interface type (NetBox's names: `1000base-t`, `virtual`, ...).
        host: the host that has it (a host's name), or None.
        device: the device that has it when it is no host of ours (a switch), or None.
        mac: its MAC address (normalised to lower case with colons).
        speed_mbps: its speed in Mbit/s.
    """

    port: str
    kind: str
    host: str | None = None
    device: str | None = None
    mac: str | None = None
    speed_mbps: int | None = None

    @property
    def owner(self) -> str:
        """The host's or device's name."""
        return self.host if self.host is not None else self.device or ""

    @property
    def name(self) -> str:
        """The port's own name (after `<owner>/`)."""
        return self.port[len(self.owner) + 1 :]


def check(spec: PortSpec) -> list[Problem]:
    """The problems of `spec` (pure).

    Example:
        >>> check(PortSpec("hv1/eth0", "1000base-t", host="hv1"))
        []
        >>> check(PortSpec("hv1/eth0", "1000base-t", host="hv2"))[0]["path"]
        'port'
    """
    problems: list[Problem] = []
    if (spec.host is None) == (spec.device is None):
        problems.append(problem("host", "name exactly one owner: a host or a device"))
    elif not spec.port.startswith(f"{spec.owner}/") or not _NAME.fullmatch(spec.name):
        problems.append(
            problem(
                "port",
                f"must be '{spec.owner}/<name>', the name letters, digits, '.', '_', ':', "
                "'/' or '-'",
            )
        )
    if spec.device is not None:
        problems += rules.key("device", spec.device)
    if not _KIND.fullmatch(spec.kind):
        problems.append(problem("kind", "must be an interface type such as 1000base-t"))
    if spec.mac is not None and not _MAC.fullmatch(_mac(spec.mac)):
        problems.append(problem("mac", "must be a MAC address such as 52:54:00:12:34:56"))
    if spec.speed_mbps is not None:
        problems += rules.count("speed_mbps", spec.speed_mbps, minimum=1)
    return problems


def _mac(value: str) -> str:
    return value.strip().lower().replace("-", ":")


def _normalise(spec: PortSpec) -> PortSpec:
    return replace(spec, mac=None if spec.mac is None else _mac(spec.mac))


async def _values(names: Names, spec: PortSpec) -> dict[str, Any]:
    ids = await resolve(names, "port", [Ref("host", "host", schema.hosts, "name", spec.host)])
    return {
        "port": spec.port,
        "host_id": ids["host"],
        "device": spec.device,
        "name": spec.name,
        "mac": spec.mac,
        "speed_mbps": spec.speed_mbps,
        "kind": spec.kind,
    }


async def _spec(names: Names, row: Any) -> PortSpec:
    return PortSpec(
        port=row.port,
        kind=row.kind,
        host=await names.key_of(schema.hosts, "name", row.host_id),
        device=row.device,
        mac=row.mac,
        speed_mbps=row.speed_mbps,
    )


async def _users(conn: AsyncConnection, row: Any) -> list[str]:
    cables = schema.cables
    query = cables.select().where((cables.c.port_a_id == row.id) | (cables.c.port_b_id == row.id))
    return ["1 cable"] if (await conn.execute(query)).first() is not None else []


async def _guard(conn: AsyncConnection, row: Any, old: PortSpec, new: PortSpec) -> list[Problem]:
    if old.owner != new.owner and await _users(conn, row):
        return [problem("host", "it is in a cable: delete the cable first")]
    return []


KIND: Kind[PortSpec] = Kind(
    entity="port",
    table=schema.ports,
    key="port",
    check=check,
    normalise=_normalise,
    to_values=_values,
    to_spec=_spec,
    users=_users,
    guard=_guard,
)
"""Ports, for `records`."""
