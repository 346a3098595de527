"""IPAM benchmark: next free address in a crowded pool, in SQL, on SQLite and PostgreSQL.

Each timed call is one whole allocation as the allocation phase makes it: a write
transaction (`Database.begin`) that locks the pool and calls `allocation.leases.lease` for
a new order (its own lease? a cooled-down one to reuse? the lowest free ordinal by the gap
query), inserts the lease, moves the pool's low-water mark and commits.

Pools (built once per backend with bulk inserts, then `ANALYZE`):

    ipv4   198.18.0.0/16 addresses, 60,000 leased (ordinals 1-60,000), 1,000 of them cooling
           until next year (the reuse query must look at and skip them)
    ipv6   2001:db8::/48 addresses, 100,000 leased, 1,000 cooling likewise

Cases per pool:

    warm   the pool's low-water mark is where the last allocation left it (the normal case)
    cold   the mark is reset to 0 before each call (as after a change of the pool's gateway
           or reserved ranges): the gap query walks every lease from the start

    .venv/bin/python bench/ipam.py [--backend sqlite|postgresql|both] [--runs 300]
                                   [--warmup 20] [--cold-runs 20] [--quick]

Prints a Markdown table (p50 / p95 / max wall ms per allocation) and saves JSON in
`bench/.results/ipam.json`. The issue's target: ≤ 5 ms p50 for the warm cases.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _common
import sqlalchemy as sa

from fluxbilling.allocation import leases
from fluxbilling.db import Database, schema
from fluxbilling.seed import seed_bare_product

BENCH_DB = _common.BenchDatabase(pg_name="fluxbilling_bench_ipam", sqlite_name="ipam.db")
POOLS = {"ipv4": ("198.18.0.0/16", 60_000), "ipv6": ("2001:db8::/48", 100_000)}
COOLING = 1_000
CHUNK = 5_000


async def _pool(db: Database, location: int, cidr: str, used: int, seed: int) -> int:
    network = ipaddress.ip_network(cidr)
    base = int(network.network_address)
    far = datetime.now(UTC) + timedelta(days=365)
    cooling = set(random.Random(seed).sample(range(1, used + 1), COOLING))
    async with db.begin() as conn:
        pool = (
            await conn.execute(
                schema.subnets.insert()
                .values(
                    location_id=location,
                    cidr=cidr,
                    family=network.version,
                    gateway=str(network.network_address + 1),
                    dns_servers=[],
                    reverse_zone="bench.arpa",
                    next_ordinal=0,
                )
                .returning(schema.subnets.c.id)
            )
        ).scalar_one()
        # Ordinal 1 is the gateway: leases start at 2, as they would be handed out.
        for start in range(2, used + 2, CHUNK):
            await conn.execute(
                schema.ip_addresses.insert(),
                [
                    {
                        "subnet_id": pool,
                        "address": str(ipaddress.ip_address(base + n)),
                        "ordinal": n,
                        "family": network.version,
                        "kind": "addresses",
                        "state": "cooling" if n in cooling else "leased",
                        "cooldown_until": far if n in cooling else None,
                    }
                    for n in range(start, min(start + CHUNK, used + 2))
                ],
            )
    async with db.engine.connect() as conn:
        await conn.execute(sa.text("ANALYZE"))
        await conn.commit()
    return int(pool)


async def _orders(db: Database, count: int) -> tuple[int, list[int]]:
    async with db.begin() as conn:
        customer, product = await seed_bare_product(conn)
        location = (
            await conn.execute(
                sa.select(schema.products.c.location_id).where(schema.products.c.id == product)
            )
        ).scalar_one()
        ids = (
            await conn.execute(
                schema.orders.insert().returning(schema.orders.c.id),
                [
                    {
                        "customer_id": customer,
                        "product_id": product,
                        "hostname": f"o{i}.bench",
                        "state": "provisioning_pending",
                    }
                    for i in range(count)
                ],
            )
        ).scalars()
        return int(location), list(ids)


async def _allocate(db: Database, pool: int, order: int, *, cold: bool) -> leases.Lease:
    async with db.begin() as conn:
        if cold:
            await conn.execute(
                schema.subnets.update().where(schema.subnets.c.id == pool).values(next_ordinal=0)
            )
        return await leases.lease(conn, pool_id=pool, order_id=order, lock=not db.is_sqlite)


async def bench_backend(backend: str, runs: int, warmup: int, cold_runs: int) -> list[Any]:
    """Every case on one backend."""
    url = await BENCH_DB.fresh(backend)
    db = Database(url)
    rows = []
    try:
        per_pool = warmup + runs + cold_runs + 1
        location, orders = await _orders(db, per_pool * len(POOLS))
        for seed, (name, (cidr, used)) in enumerate(POOLS.items()):
            _common.say(f"{backend}: {name} pool with {used:,} leases …")
            pool = await _pool(db, location, cidr, used, seed)
            mine, orders = orders[:per_pool], orders[per_pool:]
            await _allocate(db, pool, mine.pop(), cold=True)  # the first call moves the mark
            for case, count, cold in (("warm", runs, False), ("cold", cold_runs, True)):
                walls = []
                got: leases.Lease | None = None
                skip = warmup if case == "warm" else 0
                for i in range(skip + count):
                    t0 = time.perf_counter()
                    got = await _allocate(db, pool, mine.pop(), cold=cold)
                    if i >= skip:
                        walls.append((time.perf_counter() - t0) * 1000)
                rows.append(
                    {
                        "backend": backend,
                        "pool": f"{name} {cidr}",
                        "leases": used,
                        "case": case,
                        "runs": len(walls),
                        "last": got.prefix if got else None,
                        "p50_ms": _common.percentile(walls, 0.5),
                        "p95_ms": _common.percentile(walls, 0.95),
                        "max_ms": max(walls),
                    }
                )
    finally:
        await db.dispose()
        await BENCH_DB.drop(backend)
    return rows


def main() -> None:
    """Parse the options, run every case, print the table and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100 runs, 5 cold")
    opts = parser.parse_args()
    runs, cold = (100, 5) if opts.quick else (opts.runs, opts.cold_runs)
    backends = ["sqlite", "postgresql"] if opts.backend == "both" else [opts.backend]
    load_before = os.getloadavg()[0]
    rows = []
    for backend in backends:
        rows += asyncio.run(bench_backend(backend, runs, opts.warmup, cold))
    report = {
        "machine": _common.machine(),
        "load_1min": [load_before, os.getloadavg()[0]],
        "cases": rows,
    }
    _common.RESULTS.mkdir(exist_ok=True)
    (_common.RESULTS / "ipam.json").write_text(json.dumps(report, indent=2) + "\n")
    print("| backend | pool | leases | case | runs | p50 ms | p95 ms | max ms | last lease |")
    print("|---|---|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['pool']} | {r['leases']:,} | {r['case']} | {r['runs']} "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['max_ms']:.2f} | {r['last']} |"
        )
    print(f"\nload (1 min) before/after: {report['load_1min']}")


if __name__ == "__main__":
    main()
