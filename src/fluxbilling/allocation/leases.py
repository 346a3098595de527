"""Leases: an order's addresses and routed prefixes from our pools, found free in SQL.

A pool is a `subnets` row (family, kind, scope, gateway, reserved ranges, cooldown); a
lease is an `ip_addresses` row numbered by its `ordinal` in the pool (`network.ipam`).

```
(none) ──lease──► leased ──release──► cooling ──cooldown over, another order──► leased
                    ▲                    │
                    └──the same order────┘  (re-allocation gets its own lease back)
```

Finding and taking a free one happens in the caller's write transaction, with the pool
locked (NetBox's lesson, netbox#2519/#3475, phpipam#2960: "find free" and "allocate" must
not be two steps another caller can slip between): `SELECT … FOR UPDATE` of the pool row on
PostgreSQL, the write transaction itself on SQLite (`BEGIN IMMEDIATE`). Then:

1. the order's own lease of that family and kind, when it has one (a retry);
2. else the pool's lease that cooled down first (lowest ordinal on a tie), once its
   cooldown is over, given to the new owner (the index on `(pool, state, cooldown_until)`
   finds it without walking the other cooling leases);
3. else the lowest free ordinal: a gap query over the unique `(pool, ordinal)` index
   starting at the pool's low-water mark `next_ordinal` (every allowed ordinal below it is
   leased), skipping what `ipam.layout` excludes.

The unique `(subnet_id, ordinal)` constraint is the last line of defence. Lease rows are
never deleted, so the low-water mark only moves up; changing a pool's gateway or reserved
ranges resets it (`catalogue.subnets`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import schema
from fluxbilling.jsontypes import JsonObject
from fluxbilling.network import ipam

__all__ = [
    "Lease",
    "LeaseState",
    "Want",
    "layout_of",
    "lease",
    "lease_in_pools",
    "leases_of",
    "pools_for",
    "prefix_of",
    "release",
    "service_address_of",
    "wants",
]

_t = schema.ip_addresses


class LeaseState:
    """What `ip_addresses.state` holds."""

    LEASED = "leased"
    COOLING = "cooling"


@dataclass(frozen=True, slots=True)
class Want:
    """One lease a product asks for: an IP version and what one lease is."""

    family: int
    kind: ipam.PoolKind

    def describe(self) -> str:
        """`IPv4 address`, `IPv6 routed prefix`."""
        what = "address" if self.kind is ipam.PoolKind.ADDRESSES else "routed prefix"
        return f"IPv{self.family} {what}"


def wants(product: Mapping[str, Any]) -> tuple[Want, ...]:
    """What a product's services get from our IPAM (its `ipv4_address`, `ipv6_*` columns).

    Example:
        >>> [w.describe() for w in wants({"ipv4_address": True, "ipv6_routed": True})]
        ['IPv4 address', 'IPv6 routed prefix']
    """
    chosen = []
    if product.get("ipv4_address", True):
        chosen.append(Want(4, ipam.PoolKind.ADDRESSES))
    if product.get("ipv6_address"):
        chosen.append(Want(6, ipam.PoolKind.ADDRESSES))
    if product.get("ipv6_routed"):
        chosen.append(Want(6, ipam.PoolKind.ROUTED))
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease, as stored."""

    id: int
    pool_id: int
    family: int
    kind: str
    address: str
    prefix_len: int | None
    ordinal: int
    state: str
    order_id: int | None

    @property
    def prefix(self) -> str:
        """The leased address or prefix in CIDR form (`192.0.2.7/32`, `2001:db8:0:5::/64`)."""
        return prefix_of({"address": self.address, "prefix_len": self.prefix_len})

    @property
    def service_address(self) -> str:
        """The address the service is configured with (a routed prefix's `::1`)."""
        return service_address_of({"address": self.address, "prefix_len": self.prefix_len})

    def to_dict(self) -> JsonObject:
        """For checkpoints and activity."""
        return {
            "id": self.id,
            "pool_id": self.pool_id,
            "family": self.family,
            "kind": self.kind,
            "prefix": self.prefix,
            "address": self.service_address,
            "state": self.state,
        }


def prefix_of(row: Mapping[str, Any]) -> str:
    """A lease row's address or routed prefix in CIDR form.

    Example:
        >>> prefix_of({"address": "2001:db8::", "prefix_len": 64})
        '2001:db8::/64'
    """
    address = ipaddress.ip_address(row["address"])
    return f"{address}/{row.get('prefix_len') or address.max_prefixlen}"


def service_address_of(row: Mapping[str, Any]) -> str:
    """The address a service is configured with on a lease row (a routed prefix's `::1`).

    Example:
        >>> service_address_of({"address": "2001:db8::", "prefix_len": 64})
        '2001:db8::1'
    """
    return str(ipam.service_address(ipaddress.ip_network(prefix_of(row))))


def _lease(row: Any) -> Lease:
    return Lease(
        row.id,
        row.subnet_id,
        row.family,
        row.kind,
        row.address,
        row.prefix_len,
        row.ordinal,
        row.state,
        row.order_id,
    )


def layout_of(pool: Any) -> ipam.PoolLayout:
    """A pool row's layout (`ipam.layout`): gateway and resolvers are infrastructure."""
    infrastructure = [
        ipaddress.ip_address(a) for a in (pool.gateway, *(pool.dns_servers or ())) if a
    ]
    return ipam.layout(
        ipaddress.ip_network(pool.cidr),
        ipam.PoolKind(pool.kind),
        lease_prefix_len=pool.lease_prefix_len,
        infrastructure=infrastructure,
        reserved=list(pool.reserved or ()),
    )


async def pools_for(
    conn: AsyncConnection, want: Want, *, location_id: int, host_id: int | None
) -> list[int]:
    """The pools a service on `host_id` in `location_id` may lease `want` from, best first.

    A pool of that host comes before the location's pools for any host.
    """
    s = schema.subnets
    query = (
        sa.select(s.c.id)
        .where(
            s.c.location_id == location_id,
            s.c.family == want.family,
            s.c.kind == want.kind.value,
            sa.or_(s.c.host_id.is_(None), s.c.host_id == host_id),
        )
        .order_by(s.c.host_id.is_(None), s.c.id)
    )
    return list((await conn.execute(query)).scalars())


async def lease_in_pools(
    conn: AsyncConnection,
    *,
    pool_ids: Sequence[int],
    order_id: int,
    want: Want,
    lock: bool,
    now: datetime | None = None,
) -> Lease:
    """Lease `want` for the order from the first of `pool_ids` that has room.

    Raises:
        errors.CapacityExhausted: no pool listed, or all of them full (named).
    """
    full: list[str] = []
    for pool_id in pool_ids:
        try:
            return await lease(conn, pool_id=pool_id, order_id=order_id, lock=lock, now=now)
        except errors.CapacityExhausted as exc:
            full.append(str(exc.details.get("pool", pool_id)))
    where = f"pools {', '.join(full)} are full" if full else "there is no pool for it"
    raise errors.CapacityExhausted(
        f"no {want.describe()} for order {order_id}: {where}",
        order_id=order_id,
        pools=full,
    )


async def lease(
    conn: AsyncConnection,
    *,
    pool_id: int,
    order_id: int,
    lock: bool,
    now: datetime | None = None,
) -> Lease:
    """The order's lease in the pool (see the module docstring for the order of choices).

    Runs in the caller's write transaction; `lock` takes the pool's row lock (PostgreSQL).

    Args:
        conn: the write transaction.
        pool_id: the pool (`subnets.id`).
        order_id: the owner.
        lock: lock the pool row `FOR UPDATE` (PostgreSQL; SQLite's transaction is the lock).
        now: the time the cooldowns are measured against (default: the clock).

    Raises:
        errors.CapacityExhausted: the pool has nothing free; `details["pool"]` names it.
    """
    at = now or datetime.now(UTC)
    query = sa.select(schema.subnets).where(schema.subnets.c.id == pool_id)
    if lock:
        query = query.with_for_update()
    pool = (await conn.execute(query)).one()
    shape = layout_of(pool)
    start = ipam.next_allowed(shape, pool.next_ordinal)
    # One round trip decides the usual cases: a retry, a reuse, or the mark is free.
    live, own, reusable, start_taken = (
        await conn.execute(_decision(pool, order_id, at, start))
    ).one()
    if live is not None:
        row = (await conn.execute(sa.select(_t).where(_t.c.id == live))).one()
        return _lease(row)
    if own is not None:
        return await _take(conn, own, order_id, None)
    if reusable is not None:
        return await _take(conn, reusable, order_id, at)
    ordinal = start if start is not None and not start_taken else None
    if ordinal is None and start is not None:
        ordinal = await _lowest_free(conn, pool.id, shape, start)
    if ordinal is None:
        raise errors.CapacityExhausted(
            f"pool {pool.cidr} has no free {_what(pool)}", pool=pool.cidr, pool_id=pool.id
        )
    prefix = shape.lease_at(ordinal)
    routed = shape.kind is ipam.PoolKind.ROUTED
    row = (
        await conn.execute(
            _t.insert()
            .values(
                subnet_id=pool.id,
                address=str(prefix.network_address),
                prefix_len=prefix.prefixlen if routed else None,
                ordinal=ordinal,
                family=pool.family,
                kind=pool.kind,
                order_id=order_id,
                state=LeaseState.LEASED,
                leased_at=at,
            )
            .returning(*_t.c)
        )
    ).one()
    await conn.execute(
        schema.subnets.update()
        .where(schema.subnets.c.id == pool.id)
        .values(next_ordinal=ordinal + 1)
    )
    return _lease(row)


def _what(pool: Any) -> str:
    return "address" if pool.kind == ipam.PoolKind.ADDRESSES else "prefix"


def _decision(pool: Any, order_id: int, at: datetime, start: int | None) -> sa.Select[Any]:
    """The order's lease (live, or its own cooling one in this pool), the lowest lease
    whose cooldown is over, and whether the low-water mark's ordinal is taken."""
    live = (
        sa.select(_t.c.id)
        .where(_t.c.order_id == order_id, _t.c.family == pool.family, _t.c.kind == pool.kind)
        .limit(1)
    )
    # min(), not ORDER BY ordinal: the planner then looks the order up by its index
    # instead of walking the whole pool in ordinal order.
    own = sa.select(sa.func.min(_t.c.id)).where(
        _t.c.last_order_id == order_id,
        _t.c.subnet_id == pool.id,
        _t.c.state == LeaseState.COOLING,
    )
    reusable = (
        sa.select(_t.c.id)
        .where(
            _t.c.subnet_id == pool.id,
            _t.c.state == LeaseState.COOLING,
            _t.c.cooldown_until <= at,
        )
        .order_by(_t.c.cooldown_until, _t.c.ordinal)
        .limit(1)
    )
    taken = sa.exists().where(_t.c.subnet_id == pool.id, _t.c.ordinal == (start or 0))
    return sa.select(
        live.scalar_subquery(),
        own.scalar_subquery(),
        reusable.scalar_subquery(),
        taken,
    )


async def _take(conn: AsyncConnection, row_id: int, order_id: int, at: datetime | None) -> Lease:
    values: dict[str, Any] = {
        "order_id": order_id,
        "state": LeaseState.LEASED,
        "released_at": None,
        "cooldown_until": None,
        "last_order_id": None,
        "service_id": None,
        "assigned_at": None,
    }
    if at is not None:  # a new owner; the same order keeps its lease's history
        values["leased_at"] = at
    row = (
        await conn.execute(_t.update().where(_t.c.id == row_id).values(**values).returning(*_t.c))
    ).one()
    return _lease(row)


async def _lowest_free(
    conn: AsyncConnection, pool_id: int, shape: ipam.PoolLayout, start: int
) -> int | None:
    """The lowest allowed ordinal at or above `start` with no lease row in the pool."""
    candidate: int | None = start
    while candidate is not None:
        free = await _gap(conn, pool_id, candidate)
        allowed = ipam.next_allowed(shape, free)
        if allowed == free:
            return free
        candidate = allowed
    return None


async def _gap(conn: AsyncConnection, pool_id: int, start: int) -> int:
    """The lowest ordinal >= `start` with no lease row in the pool (may be past its end)."""
    taken = (
        await conn.execute(
            sa.select(_t.c.id).where(_t.c.subnet_id == pool_id, _t.c.ordinal == start)
        )
    ).first()
    if taken is None:
        return start
    after = _t.alias("after")
    gap = (
        await conn.execute(
            sa.select(_t.c.ordinal + 1)
            .where(
                _t.c.subnet_id == pool_id,
                _t.c.ordinal >= start,
                ~sa.exists().where(
                    after.c.subnet_id == pool_id, after.c.ordinal == _t.c.ordinal + 1
                ),
            )
            .order_by(_t.c.ordinal)
            .limit(1)
        )
    ).scalar_one()
    return int(gap)


async def leases_of(conn: AsyncConnection, order_id: int) -> list[Lease]:
    """The order's live leases, IPv4 first, addresses before routed prefixes."""
    rows = await conn.execute(
        sa.select(_t).where(_t.c.order_id == order_id).order_by(_t.c.family, _t.c.kind, _t.c.id)
    )
    return [_lease(r) for r in rows]


async def release(
    conn: AsyncConnection, *, order_id: int, now: datetime | None = None
) -> list[Lease]:
    """Turn the order's leases into cooling ones, each until its pool's cooldown is over.

    The PTRs are not touched here (a transaction makes no DNS calls): the caller deletes
    them first; the lease's PTR columns are cleared with it. The order stays on the lease
    as `last_order_id`, so a re-allocation of the same order gets it back at once.

    Returns:
        The released leases (now cooling).
    """
    at = now or datetime.now(UTC)
    s = schema.subnets
    rows = (
        await conn.execute(
            sa.select(_t.c.id, s.c.cooldown_seconds)
            .join(s, s.c.id == _t.c.subnet_id)
            .where(_t.c.order_id == order_id)
            .order_by(_t.c.family, _t.c.kind, _t.c.id)
        )
    ).all()
    released = []
    for row_id, cooldown in rows:
        row = (
            await conn.execute(
                _t.update()
                .where(_t.c.id == row_id)
                .values(
                    state=LeaseState.COOLING,
                    order_id=None,
                    last_order_id=order_id,
                    service_id=None,
                    released_at=at,
                    cooldown_until=at + timedelta(seconds=cooldown),
                    ptr_zone=None,
                    ptr_name=None,
                    ptr_content=None,
                )
                .returning(*_t.c)
            )
        ).one()
        released.append(_lease(row))
    return released
