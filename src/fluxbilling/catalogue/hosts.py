"""Hosts: the machines (or panel nodes) services are placed on, with their capacity and state.

A host stands in a location, may draw addresses from a subnet of that location, and is
reached through a connection (the panel that runs it). Its state says whether it takes new
services (`allocation.placement.HostStatus`: active, draining, quarantined); the services it
carries stay whatever the state.

While a host carries services (any not terminated):

- its capacity may not drop below what they use (`ram_mb_used`, ...);
- its location and connection cannot change (the services run there, through that panel);
- it cannot be deleted (nor while terminated services still refer to it: they keep
  their history). Drain or quarantine it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation.placement import HostStatus
from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import (
    Kind,
    Names,
    Problem,
    Ref,
    count_of,
    problem,
    reject,
    resolve,
)
from fluxbilling.db import schema
from fluxbilling.orders.lifecycle import ServiceState

__all__ = ["KIND", "HostSpec", "check"]

_RESOURCES = (("ram_mb", "MB of RAM"), ("vcpus", "vCPUs"), ("disk_gb", "GB of disk"))


@dataclass(frozen=True, slots=True)
class HostSpec:
    """A host as an operator states it.

    Attributes:
        name: the natural key (`kvm-ams1-01`).
        location: the code of its location.
        subnet: the cidr of the subnet its services draw addresses from (None: the panel
            assigns addresses).
        connection: the name of the connection of its panel.
        status: whether it takes new services.
        external_ref: the panel's id for it (a node id).
        ram_mb: total RAM in MB; `vcpus`, `disk_gb` likewise.
        switch_port: the switch port it hangs off, by its name on the switch (None: its port
            is not ours to move).
        rack: the name of the rack (of its location) it stands in (None: unknown).
        rack_position: its lowest rack unit, from 1 (None: unknown); needs `rack`.
    """

    name: str
    location: str
    ram_mb: int
    vcpus: int
    disk_gb: int
    subnet: str | None = None
    connection: str | None = None
    status: HostStatus = HostStatus.ACTIVE
    external_ref: str | None = None
    switch_port: str | None = None
    rack: str | None = None
    rack_position: int | None = None


def check(spec: HostSpec) -> list[Problem]:
    """The problems of `spec` (pure).

    Example:
        >>> check(HostSpec("kvm-1", "ams1", ram_mb=-1, vcpus=4, disk_gb=100))
        [{'path': 'ram_mb', 'message': 'must be an integer from 0 to 2147483647'}]
    """
    problems = rules.key("name", spec.name)
    for field, _ in _RESOURCES:
        problems += rules.count(field, getattr(spec, field))
    if spec.external_ref is not None:
        problems += rules.name("external_ref", spec.external_ref)
    if spec.switch_port is not None:
        problems += rules.name("switch_port", spec.switch_port)
    if spec.rack_position is not None:
        if spec.rack is None:
            problems.append(problem("rack_position", "needs a rack"))
        problems += rules.count("rack_position", spec.rack_position, minimum=1)
    return problems


def _same(spec: HostSpec) -> HostSpec:
    return spec


async def _values(names: Names, spec: HostSpec) -> dict[str, Any]:
    ids = await resolve(
        names,
        "host",
        [
            Ref("location", "location", schema.locations, "code", spec.location),
            Ref("subnet", "subnet", schema.subnets, "cidr", spec.subnet),
            Ref("connection", "connection", schema.connections, "name", spec.connection),
            Ref("rack", "rack", schema.racks, "name", spec.rack),
        ],
    )
    if ids["rack"] is not None:
        racks = schema.racks
        query = sa.select(racks.c.location_id, racks.c.units).where(racks.c.id == ids["rack"])
        location_id, units = (await names.conn.execute(query)).one()
        if location_id != ids["location"]:
            reject("host", [problem("rack", f"{spec.rack} is not in {spec.location}")])
        if spec.rack_position is not None and spec.rack_position > units:
            reject("host", [problem("rack_position", f"{spec.rack} has {units} units")])
    if ids["subnet"] is not None:
        subnets = schema.subnets
        query = sa.select(subnets.c.location_id).where(subnets.c.id == ids["subnet"])
        if (await names.conn.execute(query)).scalar_one() != ids["location"]:
            reject("host", [problem("subnet", f"{spec.subnet} is not in {spec.location}")])
    return {
        "name": spec.name,
        "location_id": ids["location"],
        "subnet_id": ids["subnet"],
        "connection_id": ids["connection"],
        "status": str(spec.status),
        "external_ref": spec.external_ref,
        "switch_port": spec.switch_port,
        "ram_mb_total": spec.ram_mb,
        "vcpus_total": spec.vcpus,
        "disk_gb_total": spec.disk_gb,
        "rack_id": ids["rack"],
        "rack_position": spec.rack_position,
    }


async def _spec(names: Names, row: Any) -> HostSpec:
    return HostSpec(
        name=row.name,
        location=await names.key_of(schema.locations, "code", row.location_id) or "",
        subnet=await names.key_of(schema.subnets, "cidr", row.subnet_id),
        connection=await names.key_of(schema.connections, "name", row.connection_id),
        status=HostStatus(row.status),
        external_ref=row.external_ref,
        switch_port=row.switch_port,
        ram_mb=row.ram_mb_total,
        vcpus=row.vcpus_total,
        disk_gb=row.disk_gb_total,
        rack=await names.key_of(schema.racks, "name", row.rack_id),
        rack_position=row.rack_position,
    )


async def _services(conn: AsyncConnection, host_id: int) -> tuple[int, int]:
    """(services not terminated, terminated services) on the host."""
    services = schema.services
    terminated = services.c.status == ServiceState.TERMINATED
    query = sa.select(
        sa.func.count().filter(sa.not_(terminated)), sa.func.count().filter(terminated)
    ).where(services.c.host_id == host_id)
    live, gone = (await conn.execute(query)).one()
    return int(live), int(gone)


async def _users(conn: AsyncConnection, row: Any) -> list[str]:
    live, gone = await _services(conn, row.id)
    ports = schema.ports
    query = sa.select(sa.func.count()).select_from(ports).where(ports.c.host_id == row.id)
    port_count = int((await conn.execute(query)).scalar_one())
    found = ((live, "service"), (gone, "terminated service"), (port_count, "port"))
    return [count_of(n, noun) for n, noun in found if n]


async def _guard(conn: AsyncConnection, row: Any, old: HostSpec, new: HostSpec) -> list[Problem]:
    refusals = []
    for field, unit in _RESOURCES:
        used = int(getattr(row, f"{field}_used"))
        if getattr(new, field) < used:
            refusals.append(problem(field, f"{used} {unit} are in use; it cannot be less"))
    live, _ = await _services(conn, row.id)
    if live:
        carried = f"it carries {count_of(live, 'service')}"
        for field in ("location", "connection"):
            if getattr(old, field) != getattr(new, field):
                refusals.append(problem(field, f"{carried} (drain it and move them first)"))
    return refusals


KIND: Kind[HostSpec] = Kind(
    entity="host",
    table=schema.hosts,
    key="name",
    check=check,
    normalise=_same,
    to_values=_values,
    to_spec=_spec,
    users=_users,
    guard=_guard,
    uses="carries",
)
"""Hosts, for `records`."""
