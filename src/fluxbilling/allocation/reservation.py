"""Reservation: pick a host and a primary address for an order and reserve both, under row locks.

Runs inside the fenced transaction that completes the allocation phase, so a crash leaves
either nothing reserved or everything reserved together with the phase's checkpoint. On
PostgreSQL the candidate hosts and the subnet are locked `FOR UPDATE` (in id order, so two
allocations cannot deadlock); on SQLite the transaction already holds the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.allocation import leases
from fluxbilling.allocation.placement import HostCapacity, HostStatus, Requirement, choose_host
from fluxbilling.db import schema
from fluxbilling.jsontypes import JsonObject
from fluxbilling.network import ipam

__all__ = ["Release", "Reservation", "attach", "release", "reserve"]

_MAX_CHOICES = 20


@dataclass(frozen=True, slots=True)
class Reservation:
    """What allocation reserved for an order."""

    host_id: int
    host_name: str
    subnet_id: int | None
    address: str | None
    leases: tuple[str, ...] = ()
    """Every address and routed prefix leased (`allocation.leases`), CIDR form."""

    def to_dict(self) -> JsonObject:
        """What was reserved, for the allocation phase's checkpoint output."""
        return {
            "host_id": self.host_id,
            "host": self.host_name,
            "subnet_id": self.subnet_id,
            "address": self.address,
            "leases": list(self.leases),
        }


async def reserve(
    conn: AsyncConnection,
    *,
    order_id: int,
    product: dict[str, Any],
    lock: bool,
    with_address: bool = True,
) -> Reservation:
    """Reserve capacity and an address for `order_id`; raises CapacityExhausted when none fits.

    The order's service is not created here: `orders.lifecycle` writes it in its initial
    state, and `attach` then gives it the address.

    With `with_address=False` (the provider assigns addresses: shared hosting, game servers,
    panels with their own IP pools) only capacity is reserved, and hosts need no subnet.

    Hosts are not locked while choosing: the chosen host is reserved with a guarded
    `UPDATE … WHERE used + need <= total`, so only that row is locked, and only until commit.
    When another allocation took the room first, the choice is made again on fresh numbers.
    """
    need = Requirement(
        location_id=product["location_id"],
        ram_mb=product["ram_mb"],
        vcpus=product["vcpus"],
        disk_gb=product["disk_gb"],
    )
    host = None
    considered = 0
    for _ in range(_MAX_CHOICES):
        rows = (
            await conn.execute(_hosts_in(product["location_id"], product["connection_id"]))
        ).all()
        considered = len(rows)
        usable = [r for r in rows if r.subnet_id is not None or not with_address]
        chosen = choose_host([_capacity(r) for r in usable], need)
        if chosen is None:
            break
        if await _take(conn, chosen.id, need):
            host = next(r for r in rows if r.id == chosen.id)
            break
    if host is None:
        raise errors.CapacityExhausted(
            f"no active host of this panel in location {product['location_id']} has "
            f"{need.ram_mb} MB RAM, "
            f"{need.vcpus} vCPU and {need.disk_gb} GB disk free",
            location_id=product["location_id"],
            hosts_considered=considered,
        )
    taken = (
        await _reserve_addresses(conn, order_id=order_id, product=product, host=host, lock=lock)
        if with_address
        else ()
    )
    return Reservation(
        host.id,
        host.name,
        taken[0].pool_id if taken else None,
        taken[0].service_address if taken else None,
        tuple(lease.prefix for lease in taken),
    )


async def attach(conn: AsyncConnection, *, order_id: int, service_id: int) -> None:
    """Give the order's reserved address to its service (created by the allocation phase)."""
    await conn.execute(
        schema.ip_addresses.update()
        .where(schema.ip_addresses.c.order_id == order_id)
        .values(service_id=service_id)
    )


def _hosts_in(location_id: int, connection_id: int) -> sa.Select[Any]:
    """Active hosts of the product's location that its panel (connection) runs."""
    hosts = schema.hosts
    return (
        sa.select(hosts)
        .where(
            hosts.c.location_id == location_id,
            hosts.c.connection_id == connection_id,
            hosts.c.status == HostStatus.ACTIVE,
        )
        .order_by(hosts.c.id)
    )


def _capacity(r: Any) -> HostCapacity:
    return HostCapacity(
        r.id,
        r.location_id,
        r.status,
        r.ram_mb_total,
        r.ram_mb_used,
        r.vcpus_total,
        r.vcpus_used,
        r.disk_gb_total,
        r.disk_gb_used,
    )


async def _take(conn: AsyncConnection, host_id: int, need: Requirement) -> bool:
    hosts = schema.hosts
    taken = await conn.execute(
        hosts.update()
        .where(
            hosts.c.id == host_id,
            hosts.c.status == HostStatus.ACTIVE,
            hosts.c.ram_mb_used + need.ram_mb <= hosts.c.ram_mb_total,
            hosts.c.vcpus_used + need.vcpus <= hosts.c.vcpus_total,
            hosts.c.disk_gb_used + need.disk_gb <= hosts.c.disk_gb_total,
        )
        .values(
            ram_mb_used=hosts.c.ram_mb_used + need.ram_mb,
            vcpus_used=hosts.c.vcpus_used + need.vcpus,
            disk_gb_used=hosts.c.disk_gb_used + need.disk_gb,
        )
    )
    return taken.rowcount == 1


async def _reserve_addresses(
    conn: AsyncConnection, *, order_id: int, product: dict[str, Any], host: Any, lock: bool
) -> tuple[leases.Lease, ...]:
    """Lease what the product gets: IPv4 from the host's subnet, the rest from its pools."""
    taken = []
    for want in leases.wants(product):
        if want == leases.Want(4, ipam.PoolKind.ADDRESSES) and host.subnet_id is not None:
            pool_ids = [host.subnet_id]
        else:
            pool_ids = await leases.pools_for(
                conn, want, location_id=product["location_id"], host_id=host.id
            )
        taken.append(
            await leases.lease_in_pools(
                conn, pool_ids=pool_ids, order_id=order_id, want=want, lock=lock
            )
        )
    return tuple(taken)


@dataclass(frozen=True, slots=True)
class Release:
    """What terminating a service gave back."""

    host_name: str | None
    ram_mb: int
    vcpus: int
    disk_gb: int
    address: str | None

    def describe(self) -> str:
        """A one-line activity message."""
        where = f" on {self.host_name}" if self.host_name else ""
        freed = f"released {self.ram_mb} MB / {self.vcpus} vCPU / {self.disk_gb} GB{where}"
        return freed + (f", address {self.address} cooling down" if self.address else "")


async def release(conn: AsyncConnection, *, order_id: int) -> Release:
    """Give back an order's host capacity and its reserved address (the service is gone).

    Runs in the caller's transaction (the terminate action's fenced commit, which happens
    once). Capacity never goes below zero, even if the host was resized meanwhile. The
    address's PTR is not touched here (a database transaction makes no DNS calls): terminate
    deletes it through the rDNS backend before this commit, and a re-allocation happens only
    before the network phase, which is what publishes a PTR.
    """
    t = schema
    row = (
        await conn.execute(
            sa.select(
                t.services.c.host_id,
                t.products.c.ram_mb,
                t.products.c.vcpus,
                t.products.c.disk_gb,
                t.hosts.c.name.label("host_name"),
            )
            .select_from(t.orders)
            .join(t.products, t.products.c.id == t.orders.c.product_id)
            .join(t.services, t.services.c.order_id == t.orders.c.id)
            .outerjoin(t.hosts, t.hosts.c.id == t.services.c.host_id)
            .where(t.orders.c.id == order_id)
        )
    ).one()
    if row.host_id is not None:
        hosts = t.hosts
        # SQLite's two-argument max() is PostgreSQL's greatest().
        floor = sa.func.max if conn.dialect.name == "sqlite" else sa.func.greatest
        await conn.execute(
            hosts.update()
            .where(hosts.c.id == row.host_id)
            .values(
                ram_mb_used=floor(hosts.c.ram_mb_used - row.ram_mb, 0),
                vcpus_used=floor(hosts.c.vcpus_used - row.vcpus, 0),
                disk_gb_used=floor(hosts.c.disk_gb_used - row.disk_gb, 0),
            )
        )
    cooled = await leases.release(conn, order_id=order_id)
    address = ", ".join(lease.prefix for lease in cooled) or None
    return Release(row.host_name, row.ram_mb, row.vcpus, row.disk_gb, address)
