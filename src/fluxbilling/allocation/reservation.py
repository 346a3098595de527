"""Reservation: pick a host and a primary address for an order and reserve both, under row locks.

Runs inside the fenced transaction that completes the allocation phase, so a crash leaves
either nothing reserved or everything reserved together with the phase's checkpoint. On
PostgreSQL the subnet is locked `FOR UPDATE`; on SQLite the transaction already holds the
write lock.

Host choice is the placement engine's (`allocation.choice`) over the hosts the database
prefilters (`_prefilter`: location, panel, state, hosts this order already failed on, a
subnet when we assign the address, free RAM, vCPUs and NIC: what an index and integer
columns answer), loaded a page at a time in the strategy's order until a page holds a
winner. Hosts that lost in the database are counted by reason with one aggregate query, a
few of them listed with their numbers; hosts that lost in the engine carry its reasons
(`allocation.summary`). A host without storage pools places disks on its own `disk_gb_*`
columns, as one implicit pool named `disk`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.allocation import leases, summary
from fluxbilling.allocation.choice import (
    Host,
    HostStatus,
    Need,
    Reason,
    Rejection,
    StoragePool,
    Strategy,
    choose,
)
from fluxbilling.db import schema
from fluxbilling.jsontypes import JsonObject
from fluxbilling.network import ipam

__all__ = ["Release", "Reservation", "attach", "give_back", "need_of", "release", "reserve"]

_MAX_CHOICES = 20
_PAGE = 64
"""Hosts loaded per page of the prefiltered, ranked fleet."""
IMPLICIT_POOL = "disk"
"""The pool name of a host without storage pools: its own `disk_gb_*` columns."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What allocation reserved for an order."""

    host_id: int
    host_name: str
    subnet_id: int | None
    address: str | None
    pool_id: int | None = None
    """The storage pool the disk is reserved on (None: the host's own disk columns)."""
    pool: str | None = None
    placement: JsonObject = field(default_factory=dict)
    """Why this host won and the others lost (`allocation.summary`)."""
    leases: tuple[str, ...] = ()
    """Every address and routed prefix leased (`allocation.leases`), CIDR form."""

    def to_dict(self) -> JsonObject:
        """What was reserved, for the allocation phase's checkpoint output."""
        return {
            "host_id": self.host_id,
            "host": self.host_name,
            "subnet_id": self.subnet_id,
            "address": self.address,
            "storage_pool_id": self.pool_id,
            "storage_pool": self.pool,
            "placement": self.placement,
            "leases": list(self.leases),
        }


def need_of(product: Mapping[str, Any], customer_services: Mapping[int, int]) -> Need:
    """The engine's `Need` for a product row (its placement columns) and the customer's hosts.

    Example:
        >>> n = need_of({"ram_mb": 1024, "vcpus": 1, "disk_gb": 10, "location_id": 1,
        ...              "cpu_flags": ["avx2"], "storage_type": "ssd"}, {})
        >>> n.cpu_flags, n.storage_type, n.max_per_host
        (frozenset({'avx2'}), 'ssd', None)
    """
    return Need(
        ram_mb=int(product["ram_mb"]),
        vcpus=int(product["vcpus"]),
        disk_gb=int(product["disk_gb"]),
        storage_type=product.get("storage_type") or None,
        nic_mbps=int(product.get("nic_mbps") or 0),
        location_id=product.get("location_id"),
        region=product.get("region") or None,
        tags=frozenset(product.get("host_tags") or ()),
        cpu_model=product.get("cpu_model") or None,
        cpu_flags=frozenset(product.get("cpu_flags") or ()),
        max_per_host=product.get("max_per_host"),
        customer_services=dict(customer_services),
    )


async def reserve(
    conn: AsyncConnection,
    *,
    order_id: int,
    product: dict[str, Any],
    lock: bool,
    with_address: bool = True,
    exclude: Collection[int] = (),
) -> Reservation:
    """Reserve capacity and an address for `order_id`; raises CapacityExhausted when none fits.

    The order's service is not created here: `orders.lifecycle` writes it in its initial
    state, and `attach` then gives it the address.

    With `with_address=False` (the provider assigns addresses: shared hosting, game servers,
    panels with their own IP pools) only capacity is reserved, and hosts need no subnet.
    `exclude` names hosts this order already failed on (re-allocation after a permanent
    provision failure): they are not chosen again.

    Hosts are not locked while choosing: the chosen host (and pool) is reserved with a
    guarded `UPDATE … WHERE used + need <= total`, so only that row is locked, and only
    until commit. When another allocation took the room first, the choice is made again
    on fresh numbers.

    Raises:
        errors.CapacityExhausted: no host fits; the message counts the hosts by reason.
    """
    strategy = Strategy(product.get("placement_strategy") or Strategy.SPREAD)
    need = need_of(product, await _customer_hosts(conn, order_id, product))
    found: _Found | None = None
    for _ in range(_MAX_CHOICES):
        found = await _find(conn, product, need, strategy, with_address, frozenset(exclude))
        chosen = found.placement["chosen"]
        if chosen is None:
            break
        if await _take(conn, chosen["host_id"], found.pool_id, need):
            break
    assert found is not None  # noqa: S101 - the loop runs at least once
    chosen = found.placement["chosen"]
    if chosen is None:
        where = f"location {product['location_id']}"
        raise errors.CapacityExhausted(
            summary.exhausted_message(found.placement, where),
            location_id=product["location_id"],
            hosts_considered=sum(found.placement["rejected"].values()),
            rejected=found.placement["rejected"],
            placement=found.placement,
        )
    taken = (
        await _reserve_addresses(
            conn,
            order_id=order_id,
            product=product,
            host_id=chosen["host_id"],
            subnet_id=found.subnet_id,
            lock=lock,
        )
        if with_address
        else ()
    )
    return Reservation(
        chosen["host_id"],
        chosen["host"],
        taken[0].pool_id if taken else None,
        taken[0].service_address if taken else None,
        found.pool_id,
        chosen["pool"],
        found.placement,
        leases=tuple(lease.prefix for lease in taken),
    )


@dataclass(frozen=True, slots=True)
class _Found:
    placement: JsonObject
    pool_id: int | None
    subnet_id: int | None


async def _customer_hosts(
    conn: AsyncConnection, order_id: int, product: Mapping[str, Any]
) -> dict[int, int]:
    """Host id -> the ordering customer's live services there (only with anti-affinity)."""
    if product.get("max_per_host") is None:
        return {}
    t = schema
    customer = sa.select(t.orders.c.customer_id).where(t.orders.c.id == order_id).scalar_subquery()
    rows = await conn.execute(
        sa.select(t.services.c.host_id, sa.func.count())
        .select_from(t.services)
        .join(t.orders, t.orders.c.id == t.services.c.order_id)
        .where(
            t.orders.c.customer_id == customer,
            t.orders.c.id != order_id,
            t.services.c.host_id.is_not(None),
            t.services.c.status != "terminated",
        )
        .group_by(t.services.c.host_id)
    )
    return {int(host): int(n) for host, n in rows}


def _prefilter(
    product: Mapping[str, Any], need: Need, with_address: bool, exclude: frozenset[int]
) -> tuple[sa.ColumnElement[Any], list[sa.ColumnElement[bool]]]:
    """The database's first failing check of a host as a CASE (NULL: passed), and the same
    checks as the conditions of a passing host (so an index on location, panel and state
    serves the candidate query)."""
    h = schema.hosts
    free_ram = h.c.ram_mb_total - h.c.ram_mb_used
    free_vcpus = h.c.vcpus_total - h.c.vcpus_used
    free_nic = h.c.nic_mbps_total - h.c.nic_mbps_used
    checks: list[tuple[sa.ColumnElement[bool], str]] = [
        (h.c.location_id != product["location_id"], "location"),
        (
            sa.or_(h.c.connection_id.is_(None), h.c.connection_id != product["connection_id"]),
            summary.PANEL,
        ),
        (h.c.status == HostStatus.DRAINING, "draining"),
        (h.c.status == HostStatus.QUARANTINED, "quarantined"),
        (h.c.status != HostStatus.ACTIVE, "state"),
    ]
    if exclude:
        checks.append((h.c.id.in_(sorted(exclude)), summary.FAILED_HERE))
    if with_address:
        checks.append((h.c.subnet_id.is_(None), summary.NO_SUBNET))
    checks += [(free_ram < need.ram_mb, "ram"), (free_vcpus < need.vcpus, "vcpus")]
    if need.nic_mbps > 0:
        checks.append((free_nic < need.nic_mbps, "nic"))
    reason = sa.case(*checks, else_=sa.null())
    passing = [
        h.c.location_id == product["location_id"],
        h.c.connection_id == product["connection_id"],
        h.c.status == HostStatus.ACTIVE,
        free_ram >= need.ram_mb,
        free_vcpus >= need.vcpus,
    ]
    if exclude:
        passing.append(h.c.id.not_in(sorted(exclude)))
    if with_address:
        passing.append(h.c.subnet_id.is_not(None))
    if need.nic_mbps > 0:
        passing.append(free_nic >= need.nic_mbps)
    return reason, passing


async def _find(
    conn: AsyncConnection,
    product: Mapping[str, Any],
    need: Need,
    strategy: Strategy,
    with_address: bool,
    exclude: frozenset[int],
) -> _Found:
    """Choose a host on the current numbers (nothing is reserved here)."""
    h = schema.hosts
    reason, passing = _prefilter(product, need, with_address, exclude)
    # One statement, two index-served parts: the product's location by reason, and the rest.
    here = h.c.location_id == product["location_id"]
    counted = (
        await conn.execute(
            sa.union_all(
                sa.select(reason.label("reason"), sa.func.count()).where(here).group_by(reason),
                sa.select(sa.literal("location"), sa.func.count()).where(sa.not_(here)),
            )
        )
    ).all()
    prefiltered = {str(r): int(n) for r, n in counted if r is not None and n}
    passed = sum(int(n) for r, n in counted if r is None)
    sample, sample_names = await _prefilter_sample(conn, product, need, reason)
    rows: list[Any] = []
    theirs = {hid for hid, n in need.customer_services.items() if n > 0}
    placement = None
    pools: dict[int, list[Any]] = {}
    while True:
        page, page_pools = await _page(conn, passing, strategy, len(rows))
        loaded = list(page)
        pools.update(page_pools)
        if need.max_per_host is not None and not rows and theirs:
            # The customer's own hosts rank by their count first: load them with page one.
            mine = (await conn.execute(sa.select(h).where(*passing, h.c.id.in_(theirs)))).all()
            pools.update(await _pools(conn, [r.id for r in mine if r.id not in page_pools]))
            loaded += mine
        seen = {r.id for r in rows}
        fresh = list({r.id: r for r in loaded if r.id not in seen}.values())
        rows += fresh
        placement = choose([_host(r, pools.get(r.id, ())) for r in rows], need, strategy)
        won = placement.chosen
        if len(page) < _PAGE or (won is not None and won.customer_services == 0):
            break
    names = {r.id: r.name for r in rows} | sample_names
    summarised = summary.summarise(
        placement,
        strategy=str(strategy),
        names=names,
        prefiltered=prefiltered,
        prefilter_sample=sample,
        not_examined=max(passed - len(rows), 0),
        failed_hosts=exclude,
    )
    if placement.chosen is None:
        return _Found(summarised, None, None)
    host = next(r for r in rows if r.id == placement.chosen.host.id)
    pool_id = {p.name: p.id for p in pools.get(host.id, ())}.get(placement.chosen.pool or "")
    return _Found(summarised, pool_id, host.subnet_id)


async def _prefilter_sample(
    conn: AsyncConnection,
    product: Mapping[str, Any],
    need: Need,
    reason: sa.ColumnElement[Any],
) -> tuple[list[Rejection], dict[int, str]]:
    """The first hosts of the product's location the database turned away, with numbers,
    and their names."""
    h = schema.hosts
    rows = (
        await conn.execute(
            sa.select(h, reason.label("reason"))
            .where(h.c.location_id == product["location_id"], reason.is_not(None))
            .order_by(h.c.id)
            .limit(summary.MAX_REJECTIONS)
        )
    ).all()
    return [_sampled(r, product, need) for r in rows], {r.id: r.name for r in rows}


def _sampled(r: Any, product: Mapping[str, Any], need: Need) -> Rejection:
    numbers: dict[str, tuple[int | str, int | str]] = {
        summary.PANEL: (
            "none" if r.connection_id is None else r.connection_id,
            product["connection_id"],
        ),
        "state": (r.status, ""),
        "ram": (r.ram_mb_total - r.ram_mb_used, need.ram_mb),
        "vcpus": (r.vcpus_total - r.vcpus_used, need.vcpus),
        "nic": (r.nic_mbps_total - r.nic_mbps_used, need.nic_mbps),
    }
    have, wanted = numbers.get(r.reason, ("", ""))
    return Rejection(r.id, Reason(r.reason), have, wanted)


class _Pool(NamedTuple):
    id: int
    name: str
    type: str
    total_gb: int
    used_gb: int
    overcommit_percent: int


async def _page(
    conn: AsyncConnection,
    passing: Sequence[sa.ColumnElement[bool]],
    strategy: Strategy,
    offset: int,
) -> tuple[list[Any], dict[int, list[Any]]]:
    """One page of the prefiltered hosts in the strategy's order, with their pools (one
    statement: the page as a subquery, joined to its pools)."""
    h, p = schema.hosts, schema.host_storage_pools

    def ranked(t: Any) -> tuple[Any, Any]:
        free = t.c.ram_mb_total - t.c.ram_mb_used
        return (free.desc() if strategy is Strategy.SPREAD else free.asc(), t.c.id)

    page = sa.select(h).where(*passing).order_by(*ranked(h)).limit(_PAGE).offset(offset)
    sub = page.subquery("page")
    query = (
        sa.select(
            sub,
            *(p.c[name].label(f"pool_{name}") for name in _Pool._fields),
        )
        .select_from(sub.outerjoin(p, p.c.host_id == sub.c.id))
        .order_by(*ranked(sub), p.c.id)
    )
    hosts: dict[int, Any] = {}
    pools: dict[int, list[Any]] = {}
    for row in await conn.execute(query):
        hosts.setdefault(row.id, row)
        if row.pool_id is not None:
            pools.setdefault(row.id, []).append(
                _Pool(*(getattr(row, f"pool_{name}") for name in _Pool._fields))
            )
    return list(hosts.values()), pools


async def _pools(conn: AsyncConnection, host_ids: Sequence[int]) -> dict[int, list[Any]]:
    if not host_ids:
        return {}
    p = schema.host_storage_pools
    found: dict[int, list[Any]] = {}
    rows = await conn.execute(sa.select(p).where(p.c.host_id.in_(host_ids)).order_by(p.c.id))
    for row in rows:
        found.setdefault(row.host_id, []).append(row)
    return found


def _host(r: Any, pools: Sequence[Any]) -> Host:
    if pools:
        stores = tuple(
            StoragePool(p.name, p.type, p.total_gb, p.used_gb, p.overcommit_percent) for p in pools
        )
    else:
        stores = (StoragePool(IMPLICIT_POOL, "", r.disk_gb_total, r.disk_gb_used),)
    return Host(
        r.id,
        r.location_id,
        ram_mb_total=r.ram_mb_total,
        vcpus_total=r.vcpus_total,
        ram_mb_used=r.ram_mb_used,
        vcpus_used=r.vcpus_used,
        pools=stores,
        nic_mbps_total=r.nic_mbps_total,
        nic_mbps_used=r.nic_mbps_used,
        state=r.status,
        region=r.region,
        cpu_model=r.cpu_model,
        cpu_flags=frozenset(r.cpu_flags or ()),
        tags=frozenset(r.tags or ()),
    )


async def _take(conn: AsyncConnection, host_id: int, pool_id: int | None, need: Need) -> bool:
    """Reserve `need` on the host (and its pool); False when another allocation took the room."""
    hosts = schema.hosts
    on_host = pool_id is None
    disk = need.disk_gb if on_host else 0
    taken = await conn.execute(
        hosts.update()
        .where(
            hosts.c.id == host_id,
            hosts.c.status == HostStatus.ACTIVE,
            hosts.c.ram_mb_used + need.ram_mb <= hosts.c.ram_mb_total,
            hosts.c.vcpus_used + need.vcpus <= hosts.c.vcpus_total,
            hosts.c.nic_mbps_used + need.nic_mbps <= hosts.c.nic_mbps_total,
            hosts.c.disk_gb_used + disk <= hosts.c.disk_gb_total,
        )
        .values(
            ram_mb_used=hosts.c.ram_mb_used + need.ram_mb,
            vcpus_used=hosts.c.vcpus_used + need.vcpus,
            nic_mbps_used=hosts.c.nic_mbps_used + need.nic_mbps,
            disk_gb_used=hosts.c.disk_gb_used + disk,
        )
    )
    if taken.rowcount != 1:
        return False
    if on_host:
        return True
    pools = schema.host_storage_pools
    pooled = await conn.execute(
        pools.update()
        .where(
            pools.c.id == pool_id,
            (pools.c.used_gb + need.disk_gb) * 100 <= pools.c.total_gb * pools.c.overcommit_percent,
        )
        .values(used_gb=pools.c.used_gb + need.disk_gb)
    )
    if pooled.rowcount == 1:
        return True
    # The pool filled up meanwhile: give the host back what was just taken (same transaction).
    await conn.execute(
        hosts.update()
        .where(hosts.c.id == host_id)
        .values(
            ram_mb_used=hosts.c.ram_mb_used - need.ram_mb,
            vcpus_used=hosts.c.vcpus_used - need.vcpus,
            nic_mbps_used=hosts.c.nic_mbps_used - need.nic_mbps,
        )
    )
    return False


async def attach(conn: AsyncConnection, *, order_id: int, service_id: int) -> None:
    """Give the order's reserved address to its service (created by the allocation phase)."""
    await conn.execute(
        schema.ip_addresses.update()
        .where(schema.ip_addresses.c.order_id == order_id)
        .values(service_id=service_id)
    )


async def _reserve_addresses(
    conn: AsyncConnection,
    *,
    order_id: int,
    product: Mapping[str, Any],
    host_id: int,
    subnet_id: int | None,
    lock: bool,
) -> tuple[leases.Lease, ...]:
    """Lease what the product gets: IPv4 from the host's subnet, the rest from its pools."""
    taken = []
    for want in leases.wants(product):
        if want == leases.Want(4, ipam.PoolKind.ADDRESSES) and subnet_id is not None:
            pool_ids = [subnet_id]
        else:
            pool_ids = await leases.pools_for(
                conn, want, location_id=product["location_id"], host_id=host_id
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


async def give_back(
    conn: AsyncConnection,
    *,
    host_id: int,
    ram_mb: int,
    vcpus: int,
    disk_gb: int,
    nic_mbps: int = 0,
    storage_pool_id: int | None = None,
) -> None:
    """Return reserved amounts to a host, never below zero (the host may have been resized).

    RAM, vCPUs and NIC go back to the host; the disk to its storage pool, or to the host's
    own disk columns when it was reserved there (`storage_pool_id` None). `release` uses it
    for a service's host; `allocation.holds` for a checkout hold that expired or was
    released before any service existed.
    """
    hosts = schema.hosts
    # SQLite's two-argument max() is PostgreSQL's greatest(): never below zero.
    floor = sa.func.max if conn.dialect.name == "sqlite" else sa.func.greatest
    on_host = storage_pool_id is None
    await conn.execute(
        hosts.update()
        .where(hosts.c.id == host_id)
        .values(
            ram_mb_used=floor(hosts.c.ram_mb_used - ram_mb, 0),
            vcpus_used=floor(hosts.c.vcpus_used - vcpus, 0),
            nic_mbps_used=floor(hosts.c.nic_mbps_used - nic_mbps, 0),
            disk_gb_used=floor(hosts.c.disk_gb_used - (disk_gb if on_host else 0), 0),
        )
    )
    if not on_host:
        pools = schema.host_storage_pools
        await conn.execute(
            pools.update()
            .where(pools.c.id == storage_pool_id)
            .values(used_gb=floor(pools.c.used_gb - disk_gb, 0))
        )


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
                t.services.c.storage_pool_id,
                t.products.c.ram_mb,
                t.products.c.vcpus,
                t.products.c.disk_gb,
                t.products.c.nic_mbps,
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
        await give_back(
            conn,
            host_id=row.host_id,
            ram_mb=row.ram_mb,
            vcpus=row.vcpus,
            disk_gb=row.disk_gb,
            nic_mbps=row.nic_mbps,
            storage_pool_id=row.storage_pool_id,
        )
    cooled = await leases.release(conn, order_id=order_id)
    address = ", ".join(lease.prefix for lease in cooled) or None
    return Release(row.host_name, row.ram_mb, row.vcpus, row.disk_gb, address)
