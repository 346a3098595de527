"""Leases on both databases: parallel allocations, retries, cooldowns, reserved ranges, full pools."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.allocation import leases
from fluxbilling.db import Database, schema
from tests.integration.test_engine import seed_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


async def make_pool(db: Database, cidr: str, **columns: Any) -> int:
    """A pool in the location of the orders' product (`seed_order`'s bare product)."""
    async with db.begin() as conn:
        location = (await conn.execute(sa.select(schema.products.c.location_id))).scalar_one()
        network = ipaddress.ip_network(cidr)
        values: dict[str, Any] = {
            "location_id": location,
            "cidr": cidr,
            "gateway": str(network.network_address + 1),
            "dns_servers": [],
            "reverse_zone": "ignored.arpa",
            "family": network.version,
            **columns,
        }
        return int(
            (
                await conn.execute(
                    schema.subnets.insert().values(**values).returning(schema.subnets.c.id)
                )
            ).scalar_one()
        )


async def take(db: Database, pool_id: int, order_id: int, now: datetime = T0) -> leases.Lease:
    async with db.begin() as conn:
        return await leases.lease(
            conn, pool_id=pool_id, order_id=order_id, lock=not db.is_sqlite, now=now
        )


async def give_back(db: Database, order_id: int, now: datetime = T0) -> list[leases.Lease]:
    async with db.begin() as conn:
        return await leases.release(conn, order_id=order_id, now=now)


POOLS = [
    pytest.param("198.51.100.0/24", {}, id="ipv4"),
    pytest.param("2001:db8:1::/64", {}, id="ipv6"),
    pytest.param("2001:db8::/48", {"kind": "routed", "lease_prefix_len": 64}, id="routed-64"),
]


@pytest.mark.parametrize(("cidr", "columns"), POOLS)
async def test_64_parallel_allocations_in_one_pool_get_64_distinct_leases(
    db: Database, cidr: str, columns: dict[str, Any]
) -> None:
    orders = await seed_order(db, 64)
    pool = await make_pool(db, cidr, reserved=[], **columns)
    got = await asyncio.gather(*(take(db, pool, order) for order in orders))
    prefixes = {lease.prefix for lease in got}
    assert len(prefixes) == 64
    network = ipaddress.ip_network(cidr)
    gateway = network.network_address + 1
    assert all(ipaddress.ip_network(p).subnet_of(network) for p in prefixes)  # type: ignore[arg-type]
    assert not any(gateway in ipaddress.ip_network(p) for p in prefixes)
    # The lowest ones, in a row: the gap query hands out the next free, not a random one.
    ordinals = sorted(lease.ordinal for lease in got)
    assert ordinals == list(range(ordinals[0], ordinals[0] + 64))
    async with db.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(sa.func.count()).where(schema.ip_addresses.c.subnet_id == pool)
            )
        ).scalar_one()
    assert stored == 64


async def test_a_retry_of_the_same_order_gets_the_same_lease(db: Database) -> None:
    (order,) = await seed_order(db)
    pool = await make_pool(db, "198.51.100.0/24")
    first = await take(db, pool, order)
    again = await asyncio.gather(*(take(db, pool, order) for _ in range(5)))
    assert {lease.id for lease in again} == {first.id}
    assert first.service_address == "198.51.100.2"


async def test_an_order_holds_one_ipv4_and_one_ipv6_lease(db: Database) -> None:
    (order,) = await seed_order(db)
    v4 = await make_pool(db, "198.51.100.0/24")
    v6 = await make_pool(db, "2001:db8:1::/64")
    routed = await make_pool(
        db, "2001:db8:2::/48", kind="routed", lease_prefix_len=64, gateway="fe80::1"
    )
    got = [await take(db, pool, order) for pool in (v4, v6, routed)]
    assert [lease.prefix for lease in got] == [
        "198.51.100.2/32",
        "2001:db8:1::2/128",
        "2001:db8:2::/64",
    ]
    assert got[2].service_address == "2001:db8:2::1"
    async with db.connect() as conn:
        assert [lease.id for lease in await leases.leases_of(conn, order)] == [
            lease.id for lease in got
        ]


async def test_a_released_lease_cools_down_before_another_order_gets_it(db: Database) -> None:
    first, second, third = await seed_order(db, 3)
    pool = await make_pool(db, "198.51.100.0/24", cooldown_seconds=600)
    released = await take(db, pool, first)
    (cooling,) = await give_back(db, first)
    assert (cooling.state, cooling.order_id) == ("cooling", None)
    during = await take(db, pool, second, now=T0 + timedelta(seconds=599))
    assert during.ordinal != released.ordinal
    after = await take(db, pool, third, now=T0 + timedelta(seconds=600))
    assert (after.id, after.ordinal, after.order_id) == (released.id, released.ordinal, third)


async def test_a_reallocated_order_gets_its_own_cooling_lease_back(db: Database) -> None:
    (order,) = await seed_order(db)
    pool = await make_pool(db, "198.51.100.0/24")
    before = await take(db, pool, order)
    await give_back(db, order)
    again = await take(db, pool, order)
    assert (again.id, again.state) == (before.id, "leased")


async def test_gateway_resolvers_and_reserved_ranges_are_never_handed_out(db: Database) -> None:
    orders = await seed_order(db, 4)
    pool = await make_pool(
        db,
        "198.51.100.0/28",
        gateway="198.51.100.14",
        dns_servers=["198.51.100.5"],
        reserved=["198.51.100.1-198.51.100.3", "198.51.100.8/30"],
    )
    got = await asyncio.gather(*(take(db, pool, order) for order in orders[:3]))
    assert sorted(lease.address for lease in got) == [
        "198.51.100.4",
        "198.51.100.6",
        "198.51.100.7",
    ]
    assert (await take(db, pool, orders[3])).address == "198.51.100.12"


async def test_a_full_pool_is_capacity_exhausted_naming_the_pool(db: Database) -> None:
    orders = await seed_order(db, 3)
    pool = await make_pool(db, "198.51.100.0/29", reserved=["198.51.100.2-198.51.100.5"])
    assert (await take(db, pool, orders[0])).address == "198.51.100.6"
    with pytest.raises(errors.CapacityExhausted, match=r"pool 198\.51\.100\.0/29") as caught:
        await take(db, pool, orders[1])
    assert caught.value.details["pool"] == "198.51.100.0/29"
    routed = await make_pool(
        db, "2001:db8::/63", kind="routed", lease_prefix_len=64, gateway="fe80::1"
    )
    await take(db, routed, orders[1])
    await take(db, routed, orders[2])
    with pytest.raises(errors.CapacityExhausted, match="no free prefix"):
        await take(db, routed, orders[0])


async def test_a_lowered_low_water_mark_finds_the_gaps(db: Database) -> None:
    orders = await seed_order(db, 4)
    pool = await make_pool(db, "198.51.100.0/24", reserved=["198.51.100.3"])
    got = [await take(db, pool, order) for order in orders[:3]]
    assert [lease.address for lease in got] == ["198.51.100.2", "198.51.100.4", "198.51.100.5"]
    async with db.begin() as conn:
        # An operator frees the reserved address; the catalogue resets the mark.
        await conn.execute(
            schema.subnets.update()
            .where(schema.subnets.c.id == pool)
            .values(reserved=[], next_ordinal=0)
        )
    assert (await take(db, pool, orders[3])).address == "198.51.100.3"
