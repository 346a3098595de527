"""Hosts: the machines (or panel nodes) services are placed on, with their capacity and state.

A host stands in a location, may draw addresses from a subnet of that location, and is
reached through a connection (the panel that runs it). Its state says whether it takes new
services (`allocation.placement.HostStatus`: active, draining, quarantined); the services it
carries stay whatever the state.

Placement (`allocation.choice`) reads a host's `region`, `cpu_model`, `cpu_flags`, `tags`,
`nic_mbps` (its NIC capacity) and `storage_pools` (name, type such as ssd/nvme/hdd, size,
overcommit in percent). A host without storage pools places disks on its own `disk_gb`.
Pools are written with the host: a pool left out of the spec is removed, which is refused
while it holds reserved disk, as is shrinking a pool below what is reserved on it.

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

from fluxbilling import errors
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

__all__ = ["KIND", "HostSpec", "PoolSpec", "check"]

_RESOURCES = (("ram_mb", "MB of RAM"), ("vcpus", "vCPUs"), ("disk_gb", "GB of disk"))


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A storage pool of a host.

    Attributes:
        name: unique on the host (`nvme0`).
        type: what products ask for (`ssd`, `nvme`, `hdd`, ...).
        total_gb: its size.
        overcommit_percent: how much of its size it may promise (150 = 1.5x; at least 100).
    """

    name: str
    type: str
    total_gb: int
    overcommit_percent: int = 100


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
        region: its region (products may require one), or None.
        cpu_model: its CPU model, or None.
        cpu_flags: its CPU flags (`avx2`, `avx512f`, ...).
        tags: labels products may require (`gpu`, `dedicated-nic`, ...).
        nic_mbps: its NIC capacity in Mbit/s (0: none to reserve).
        storage_pools: its storage pools (none: disks go on `disk_gb`).
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
    region: str | None = None
    cpu_model: str | None = None
    cpu_flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    nic_mbps: int = 0
    storage_pools: tuple[PoolSpec, ...] = ()


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
    if spec.region is not None:
        problems += rules.key("region", spec.region)
    if spec.cpu_model is not None:
        problems += rules.name("cpu_model", spec.cpu_model)
    problems += rules.labels("cpu_flags", spec.cpu_flags)
    problems += rules.labels("tags", spec.tags)
    problems += rules.count("nic_mbps", spec.nic_mbps)
    return problems + _pool_problems(spec.storage_pools)


def _pool_problems(pools: tuple[PoolSpec, ...]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, pool in enumerate(pools):
        where = f"storage_pools[{i}]"
        problems += rules.key(f"{where}.name", pool.name)
        problems += rules.key(f"{where}.type", pool.type)
        problems += rules.count(f"{where}.total_gb", pool.total_gb)
        if isinstance(pool.overcommit_percent, bool) or not 100 <= pool.overcommit_percent <= 1000:
            problems.append(problem(f"{where}.overcommit_percent", "must be from 100 to 1000"))
        if pool.name in seen:
            problems.append(problem(f"{where}.name", f"{pool.name} is listed twice"))
        seen.add(pool.name)
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
        "region": spec.region or "",
        "cpu_model": spec.cpu_model or "",
        "cpu_flags": list(spec.cpu_flags),
        "tags": list(spec.tags),
        "nic_mbps_total": spec.nic_mbps,
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
        region=row.region or None,
        cpu_model=row.cpu_model or None,
        cpu_flags=tuple(row.cpu_flags or ()),
        tags=tuple(row.tags or ()),
        nic_mbps=row.nic_mbps_total,
        storage_pools=tuple(
            PoolSpec(p.name, p.type, p.total_gb, p.overcommit_percent)
            for p in await _pools(names.conn, row.id)
        ),
    )


async def _pools(conn: AsyncConnection, host_id: int) -> list[Any]:
    pools = schema.host_storage_pools
    query = sa.select(pools).where(pools.c.host_id == host_id).order_by(pools.c.id)
    return list((await conn.execute(query)).all())


async def _write_pools(conn: AsyncConnection, host_id: int, spec: HostSpec | None) -> None:
    """Make the host's pools the spec's (None: the host is being deleted: remove them all).

    Raises:
        errors.Conflict: a pool to remove holds reserved disk, or would shrink below it.
    """
    table = schema.host_storage_pools
    stored = {p.name: p for p in await _pools(conn, host_id)}
    wanted = {p.name: p for p in (spec.storage_pools if spec is not None else ())}
    refusals = []
    for i, pool in enumerate(spec.storage_pools if spec is not None else ()):
        old = stored.get(pool.name)
        if old is not None and old.used_gb * 100 > pool.total_gb * pool.overcommit_percent:
            refusals.append(problem(f"storage_pools[{i}]", f"{old.used_gb} GB are reserved on it"))
    for name, old in stored.items():
        if name not in wanted and old.used_gb > 0:
            refusals.append(
                problem("storage_pools", f"pool {name} holds {old.used_gb} GB; keep it")
            )
    if refusals:
        raise errors.Conflict(
            "the host's storage pools cannot change so: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in refusals),
            problems=refusals,
        )
    gone = [old.id for name, old in stored.items() if name not in wanted]
    if gone:
        services = schema.services
        await conn.execute(
            services.update()
            .where(services.c.storage_pool_id.in_(gone))
            .values(storage_pool_id=None)
        )
        await conn.execute(table.delete().where(table.c.id.in_(gone)))
    for pool in wanted.values():
        values = {
            "type": pool.type,
            "total_gb": pool.total_gb,
            "overcommit_percent": pool.overcommit_percent,
        }
        if pool.name in stored:
            await conn.execute(
                table.update().where(table.c.id == stored[pool.name].id).values(**values)
            )
        else:
            await conn.execute(table.insert().values(host_id=host_id, name=pool.name, **values))


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
    nic_used = int(row.nic_mbps_used)
    if new.nic_mbps < nic_used:
        refusals.append(problem("nic_mbps", f"{nic_used} Mbit/s are in use; it cannot be less"))
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
    children=_write_pools,
)
"""Hosts, for `records`."""
