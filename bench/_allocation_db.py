"""Host choice through the database: the real reserve path (`allocation.reservation.reserve`).

`bench/allocation.py --db sqlite|postgresql|both` loads the same seeded fleet as its pure
cases into a fresh, migrated bench database (hosts with two storage pools each, one panel),
then times whole reservations: one transaction each, as the allocation phase runs it, with
the SQL prefilter, the aggregate that counts the hosts it turned away by reason, the sample
of them with numbers, the page(s) of candidates, their pools, the engine's choice and the
guarded UPDATEs of the host and its pool: the time from BEGIN to just before COMMIT. The
COMMIT (a disk sync, the same for every write transaction) is timed apart; `cpu_ms` is this
process's CPU per reservation (on SQLite it includes the database's own work, which runs in
aiosqlite's thread; on PostgreSQL the server's is not in it). Addresses are left out
(`with_address=False`): this measures host choice.

`--db-locations` spreads the fleet over that many locations (the pure cases use 4); with 1,
every host is in the product's location, the prefilter's worst case.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import _common
import sqlalchemy as sa

from fluxbilling.allocation import reservation
from fluxbilling.allocation.choice import Host, Strategy
from fluxbilling.db import Database, schema

__all__ = ["DATABASE", "measure_db"]

DATABASE = _common.BenchDatabase(pg_name="fluxbilling_bench_alloc", sqlite_name="alloc.db")
_CHUNK = 1000


async def _load(db: Database, hosts: Sequence[Host], locations: int) -> None:
    async with db.begin() as conn:
        for n in range(1, locations + 1):
            await conn.execute(schema.locations.insert().values(code=f"loc{n}", name=f"L{n}"))
        await conn.execute(
            schema.connections.insert().values(
                name="panel",
                type="http",
                base_url="http://panel.invalid/",
                settings={},
                secrets_sealed="-",
            )
        )
        for start in range(0, len(hosts), _CHUNK):
            chunk = hosts[start : start + _CHUNK]
            await conn.execute(
                schema.hosts.insert(),
                [
                    {
                        "id": h.id,
                        "location_id": (h.location_id - 1) % locations + 1,
                        "connection_id": 1,
                        "name": f"h{h.id:05d}",
                        "status": h.state,
                        "ram_mb_total": h.ram_mb_total,
                        "ram_mb_used": h.ram_mb_used,
                        "vcpus_total": h.vcpus_total,
                        "vcpus_used": h.vcpus_used,
                        "disk_gb_total": 1000,
                        "region": h.region,
                        "cpu_model": h.cpu_model,
                        "cpu_flags": sorted(h.cpu_flags),
                        "tags": sorted(h.tags),
                        "nic_mbps_total": h.nic_mbps_total,
                        "nic_mbps_used": h.nic_mbps_used,
                    }
                    for h in chunk
                ],
            )
            await conn.execute(
                schema.host_storage_pools.insert(),
                [
                    {
                        "host_id": h.id,
                        "name": p.name,
                        "type": p.type,
                        "total_gb": p.total_gb,
                        "used_gb": min(p.used_gb, p.total_gb * p.overcommit_percent // 100),
                        "overcommit_percent": p.overcommit_percent,
                    }
                    for h in chunk
                    for p in h.pools
                ],
            )
    async with db.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))


def products() -> dict[str, dict[str, Any]]:
    """The cases' products (the pure cases' needs, as product rows)."""
    base = {
        "location_id": 1,
        "connection_id": 1,
        "ram_mb": 4096,
        "vcpus": 4,
        "disk_gb": 80,
        "placement_strategy": "spread",
    }
    return {
        "typical": {
            **base,
            "storage_type": "ssd",
            "nic_mbps": 100,
            "cpu_flags": ["avx512f"],
        },
        "loose": base,
    }


async def _case(db: Database, product: dict[str, Any], runs: int, warmup: int) -> dict[str, Any]:
    walls: list[float] = []
    commits: list[float] = []
    last: reservation.Reservation | None = None
    cpu = 0.0
    for i in range(warmup + runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        async with db.begin() as conn:
            last = await reservation.reserve(
                conn, order_id=i + 1, product=product, lock=not db.is_sqlite, with_address=False
            )
            t1 = time.perf_counter()
            c1 = time.process_time()
        if i >= warmup:
            cpu += (c1 - c0) * 1000
            walls.append((t1 - t0) * 1000)
            commits.append((time.perf_counter() - t1) * 1000)
    assert last is not None
    placement = last.placement
    return {
        "p50_ms": _common.percentile(walls, 0.5),
        "p95_ms": _common.percentile(walls, 0.95),
        "max_ms": max(walls),
        "commit_p50_ms": _common.percentile(commits, 0.5),
        "cpu_ms": cpu / runs,
        "fitting": placement["fitting"],
        "not_examined": placement["not_examined"],
        "rejected": placement["rejected"],
    }


async def measure_db(
    backend: str, hosts: Sequence[Host], *, locations: int, runs: int, warmup: int
) -> list[dict[str, Any]]:
    """Every database case on `backend` (a fresh bench database, dropped after)."""
    url = await DATABASE.fresh(backend)
    db = Database(url)
    cases = []
    try:
        _common.say(f"{backend}: loading {len(hosts):,} hosts …")
        await _load(db, hosts, locations)
        for name, product in products().items():
            for strategy in Strategy:
                _common.say(f"{backend}: {name}, {strategy} …")
                found = await _case(
                    db, {**product, "placement_strategy": str(strategy)}, runs, warmup
                )
                cases.append(
                    {
                        "case": f"db {name}",
                        "backend": backend,
                        "strategy": str(strategy),
                        "locations": locations,
                        **found,
                    }
                )
    finally:
        await db.dispose()
        await DATABASE.drop(backend)
    return cases
