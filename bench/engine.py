"""Engine benchmark: checkpoint latency, phases/s, enqueue rate and pickup latency.

Every phase handler here is a no-op (returns `Done` at once and commits nothing), so the
numbers are the engine's own overhead: claims, fenced transactions, checkpoints, activity
rows, wake-ups. Run it with the project's virtualenv:

    .venv/bin/python bench/engine.py [--backend sqlite|postgresql|both] [--runs N] [--quick]

1. checkpoint: `store.fenced(claim)` + `store.complete_phase`, one transaction at a time.
2. throughput: N runs enqueued up front, two worker processes (`Worker`, no-op handlers)
   drain them; phases/s = 5 x N / elapsed (billing is done at enqueue).
3. enqueue: insert an order + `store.enqueue` (with the billing checkpoint, as the Stripe
   webhook does), one transaction per run; sequential, then concurrent tasks.
4. pickup: commit of an enqueue -> the claim of that run by an idle worker. In one process
   through a shared `Wakeup` (the embedded default; both backends), and on PostgreSQL also
   with the worker in another process woken by LISTEN/NOTIFY (`PgListener`).

The SQLite file lives in `bench/.results/` (ignored by git); PostgreSQL uses its own
database `fluxbilling_bench` (dropped and re-created; `FLUXBILLING_BENCH_PG_URL` points at
the server's admin database). Results are printed as a Markdown table and saved as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import _common
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import Database, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.engine.runs import Claim, RunStore
from fluxbilling.engine.wakeup import PgListener, Wakeup
from fluxbilling.engine.worker import Worker
from fluxbilling.orders.pipeline import PHASES, PIPELINES, Phase
from fluxbilling.orders.progress import OrderProgress
from fluxbilling.seed import seed_bare_product

DATABASE = _common.BenchDatabase(pg_name="fluxbilling_bench", sqlite_name="bench.db")
WORKER_PHASES = len(PHASES) - 1  # billing is completed by the enqueue itself


# -- sizes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much of each measurement to do."""

    checkpoint_runs: int  # x5 fenced checkpoints
    throughput_runs: int
    enqueues: int
    enqueue_tasks: int
    pickups: int
    concurrency: int
    processes: int
    pool_size: int


def sizes_from(args: argparse.Namespace) -> Sizes:
    """The full run, or a quick smoke run with `--quick`."""
    if args.quick:
        return Sizes(
            checkpoint_runs=60,
            throughput_runs=args.runs or 300,
            enqueues=200,
            enqueue_tasks=args.enqueue_tasks,
            pickups=40,
            concurrency=args.concurrency,
            processes=args.processes,
            pool_size=args.pool_size,
        )
    return Sizes(
        checkpoint_runs=400,
        throughput_runs=args.runs or 2000,
        enqueues=1000,
        enqueue_tasks=args.enqueue_tasks,
        pickups=200,
        concurrency=args.concurrency,
        processes=args.processes,
        pool_size=args.pool_size,
    )


# -- the no-op driver --------------------------------------------------------------------

_DONE = Done({})


class NoopHandler:
    """A phase handler that is done at once and writes nothing of its own."""

    async def execute(self, ctx: PhaseContext) -> Outcome:
        return _DONE

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        return done.output


def run_store(db: Database) -> RunStore:
    """The store as the composition root builds it: the order pipelines, moving their orders."""
    return RunStore(db, PIPELINES, OrderProgress(db))


def noop_handlers() -> dict[str, NoopHandler]:
    """One no-op handler per worker phase."""
    return {p: NoopHandler() for p in PHASES[1:]}


class TimedStore(RunStore):
    """A run store that reports when each run was claimed (`time.monotonic`, system-wide)."""

    def __init__(self, db: Database, sink: Callable[[int, float], None]) -> None:
        super().__init__(db, PIPELINES, OrderProgress(db))
        self._sink = sink

    async def claim(self, worker: str, limit: int = 1) -> list[Claim]:
        claims = await super().claim(worker, limit)
        now = time.monotonic()
        for c in claims:
            self._sink(c.run_id, now)
        return claims


# -- databases and seeding ---------------------------------------------------------------


@dataclass(slots=True)
class Catalog:
    """The one customer and product every bench order points at (minimal FK chain)."""

    customer_id: int
    product_id: int
    issued: int = 0

    def hostname(self) -> str:
        self.issued += 1
        return f"bench-{self.issued}.example.com"


async def seed_catalog(db: Database) -> Catalog:
    """Location, customer, image, connection and product: what an order's FKs need."""
    async with db.begin() as conn:
        cust, prod = await seed_bare_product(conn, slug="bench")
    return Catalog(customer_id=cust, product_id=prod)


async def enqueue_in(conn: AsyncConnection, store: RunStore, catalog: Catalog) -> int:
    """What the webhook does for a paid invoice: the order row + the run + billing checkpoint."""
    order_id = (
        await conn.execute(
            schema.orders.insert()
            .values(
                customer_id=catalog.customer_id,
                product_id=catalog.product_id,
                hostname=catalog.hostname(),
                state="provisioning_pending",
            )
            .returning(schema.orders.c.id)
        )
    ).scalar_one()
    return await store.enqueue(
        conn,
        order_id,
        phase=Phase.ALLOCATION,
        completed={
            Phase.BILLING: {
                "invoice_id": order_id,
                "gateway": "stripe",
                "payment": f"pi_bench_{order_id}",
                "amount_minor": 100,
                "currency": "EUR",
            }
        },
    )


async def enqueue_batch(db: Database, store: RunStore, catalog: Catalog, n: int) -> list[int]:
    """Set-up only: enqueue `n` runs, a few hundred per transaction."""
    ids: list[int] = []
    while len(ids) < n:
        async with db.begin() as conn:
            for _ in range(min(250, n - len(ids))):
                ids.append(await enqueue_in(conn, store, catalog))
    return ids


async def retire_queued(db: Database) -> None:
    """Cancel runs left queued by a measurement so the next one starts from an empty queue."""
    async with db.begin() as conn:
        await conn.execute(
            schema.runs.update()
            .where(schema.runs.c.state.in_(("queued", "running")))
            .values(state="cancelled", lease_owner=None, lease_expires_at=None)
        )


# -- statistics --------------------------------------------------------------------------


def latency(samples: list[float]) -> dict[str, float]:
    """p50/p99/mean/max in milliseconds."""
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50_ms": _common.percentile(ms, 0.50),
        "p99_ms": _common.percentile(ms, 0.99),
        "mean_ms": statistics.fmean(ms),
        "max_ms": max(ms),
    }


# -- 1. checkpoint latency ---------------------------------------------------------------


async def bench_checkpoint(url: str, catalog: Catalog, runs: int) -> dict[str, float]:
    """Time each fenced `complete_phase` transaction, one after another."""
    db = Database(url)
    store = run_store(db)
    samples: list[float] = []
    cpu = 0.0
    try:
        await enqueue_batch(db, store, catalog, runs + 1)  # +1: the warm-up run
        first = True
        while True:
            claims = await store.claim("bench-checkpoint", limit=50)
            if not claims:
                break
            for claim in claims:
                current: Claim | None = claim
                while current is not None:
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    async with store.fenced(current) as conn:
                        following = await store.complete_phase(conn, current, {})
                    elapsed = time.perf_counter() - started
                    current = following
                    if not first:
                        samples.append(elapsed)
                        cpu += time.process_time() - cpu_started
                first = False  # the first run warms connections and statement caches
    finally:
        await db.dispose()
    return {**latency(samples), "cpu_ms": 1000 * cpu / len(samples)}


# -- 2. phases per second with worker processes ------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildConfig:
    """What a worker process needs (picklable)."""

    url: str
    name: str
    concurrency: int
    poll_interval: float
    listen: bool = False
    report_claims: bool = False
    pool_size: int = 0  # 0: what `fluxbilling worker` gets (bootstrap: concurrency + 2, at least 5)


def worker_process(
    cfg: ChildConfig, ready: Any, go: MpEvent, stop: MpEvent, results: Any, claims: Any
) -> None:
    """The entry of one worker process (multiprocessing, spawn)."""
    asyncio.run(_worker_main(cfg, ready, go, stop, results, claims))


async def _worker_main(
    cfg: ChildConfig, ready: Any, go: MpEvent, stop_flag: MpEvent, results: Any, claims: Any
) -> None:
    db = Database(cfg.url, pool_size=cfg.pool_size or max(5, cfg.concurrency + 2))
    opened = [0]
    sa.event.listen(
        db.engine.sync_engine, "connect", lambda *_: opened.__setitem__(0, opened[0] + 1)
    )
    if cfg.report_claims:
        store: RunStore = TimedStore(db, lambda run_id, at: claims.put((run_id, at)))
    else:
        store = run_store(db)
    wakeup = Wakeup()
    listener: PgListener | None = None
    if cfg.listen:
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        listener = PgListener(dsn, wakeup)
        await listener.start()
    worker = Worker(
        store,
        noop_handlers(),
        worker_id=f"bench-{cfg.name}-{os.getpid()}",
        concurrency=cfg.concurrency,
        poll_interval=cfg.poll_interval,
        wakeup=wakeup,
    )
    async with db.connect() as conn:  # open the pool before the clock starts
        await conn.execute(sa.text("SELECT 1"))
    ready.put(cfg.name)
    await asyncio.to_thread(go.wait)
    cpu_started = time.process_time()  # every thread of this process (aiosqlite's too)
    opened_before = opened[0]
    stop = asyncio.Event()
    stopper = asyncio.create_task(asyncio.to_thread(stop_flag.wait))
    stopper.add_done_callback(lambda _t: stop.set())
    try:
        await worker.run(stop)
        cpu = time.process_time() - cpu_started
    finally:
        if listener is not None:
            await listener.stop()
        await db.dispose()
    results.put((cfg.name, worker.processed_phases, cpu, opened[0] - opened_before))


@dataclass
class Children:
    """Worker processes plus the signals shared with them."""

    ctx: Any
    ready: Any = None
    results: Any = None
    claims: Any = None
    go: Any = None
    stop: Any = None
    procs: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ready = self.ctx.Queue()
        self.results = self.ctx.Queue()
        self.claims = self.ctx.Queue()
        self.go = self.ctx.Event()
        self.stop = self.ctx.Event()

    def start(self, configs: list[ChildConfig]) -> None:
        for cfg in configs:
            proc = self.ctx.Process(
                target=worker_process,
                args=(cfg, self.ready, self.go, self.stop, self.results, self.claims),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
        for _ in configs:
            self.ready.get(timeout=60)

    def finish(self) -> dict[str, tuple[int, float, int]]:
        """Stop the workers; returns each one's (phases, CPU seconds, connections opened)."""
        self.stop.set()
        self.go.set()
        processed = {}
        for _ in self.procs:
            name, count, cpu, opened = self.results.get(timeout=60)
            processed[name] = (count, cpu, opened)
        for proc in self.procs:
            proc.join(timeout=30)
        return processed


def _unfinished_counter(db: Database, first: int, last: int) -> Callable[[], Any]:
    """How many of the runs are not completed yet, read without touching SQLite's write lock."""
    if db.is_sqlite:
        path = db.engine.url.database
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        sql = "SELECT count(*) FROM runs WHERE id BETWEEN ? AND ? AND state != 'completed'"

        async def count_sqlite() -> int:
            left = int(reader.execute(sql, (first, last)).fetchone()[0])
            if not left:
                reader.close()
            return left

        return count_sqlite

    async def count_pg() -> int:
        async with db.connect() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(schema.runs)
                .where(schema.runs.c.id.between(first, last), schema.runs.c.state != "completed")
            )
            return int((await conn.execute(query)).scalar_one())

    return count_pg


async def bench_throughput(url: str, catalog: Catalog, sizes: Sizes) -> dict[str, Any]:
    """Enqueue `runs` runs, start the worker processes, time until every run completed."""
    db = Database(url)
    store = run_store(db)
    try:
        runs, processes = sizes.throughput_runs, sizes.processes
        ids = await enqueue_batch(db, store, catalog, runs)
        first, last = min(ids), max(ids)
        unfinished = _unfinished_counter(db, first, last)
        children = Children(mp.get_context("spawn"))
        children.start(
            [
                ChildConfig(url, f"w{i}", sizes.concurrency, 1.0, pool_size=sizes.pool_size)
                for i in range(processes)
            ]
        )
        server_before = {} if db.is_sqlite else await _common.pg_backend_cpu(url)
        ticks_before = _common.cpu_ticks()
        started = time.perf_counter()
        children.go.set()
        deadline = started + 600
        while (left := await unfinished()) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        ticks_after = _common.cpu_ticks()
        busy = (ticks_after[0] - ticks_before[0]) / max(1, ticks_after[1] - ticks_before[1])
        server_after = {} if db.is_sqlite else await _common.pg_backend_cpu(url)
        processed = children.finish()
        async with db.connect() as conn:
            failed = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(schema.runs)
                    .where(schema.runs.c.id.between(first, last), schema.runs.c.state == "failed")
                )
            ).scalar_one()
    finally:
        await db.dispose()
    return {
        "runs": runs,
        "processes": processes,
        "concurrency": sizes.concurrency,
        "elapsed_s": elapsed,
        "phases_per_s": WORKER_PHASES * runs / elapsed,
        "runs_per_s": runs / elapsed,
        "unfinished": left,
        "failed": failed,
        "phases_by_process": {name: count for name, (count, _, _) in processed.items()},
        "worker_cpu_ms_per_phase": 1000
        * sum(cpu for _, cpu, _ in processed.values())
        / max(1, sum(count for count, _, _ in processed.values())),
        "connections_opened": sum(opened for _, _, opened in processed.values()),
        "machine_cpu_busy": busy,
        # Approximate: backends that closed during the run are missed; 10 ms resolution.
        "server_cpu_ms_per_phase": 1000
        * sum(cpu - server_before.get(pid, 0.0) for pid, cpu in server_after.items())
        / (WORKER_PHASES * runs)
        if server_after
        else None,
    }


# -- 3. enqueue rate ---------------------------------------------------------------------


async def bench_enqueue(url: str, catalog: Catalog, n: int, tasks: int) -> dict[str, Any]:
    """Runs enqueued per second, one transaction each: sequential, then `tasks` at once."""
    db = Database(url, pool_size=max(5, tasks))
    store = run_store(db)
    out: dict[str, Any] = {}
    try:
        await enqueue_batch(db, store, catalog, 5)  # warm-up

        async def one(samples: list[float]) -> None:
            started = time.perf_counter()
            async with db.begin() as conn:
                await enqueue_in(conn, store, catalog)
            samples.append(time.perf_counter() - started)

        samples: list[float] = []
        started = time.perf_counter()
        for _ in range(n):
            await one(samples)
        out["sequential"] = {"per_s": n / (time.perf_counter() - started), **latency(samples)}

        concurrent: list[float] = []
        remaining = n

        async def loop() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one(concurrent)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(tasks)))
        out["concurrent"] = {
            "tasks": tasks,
            "per_s": n / (time.perf_counter() - started),
            **latency(concurrent),
        }
        await retire_queued(db)
    finally:
        await db.dispose()
    return out


# -- 4. pickup latency -------------------------------------------------------------------


def _gap() -> float:
    return random.uniform(0.02, 0.05)


async def bench_pickup_in_process(url: str, catalog: Catalog, n: int) -> dict[str, float]:
    """API and worker in one process: commit, `Wakeup.notify()`, the idle worker claims."""
    db = Database(url)
    claimed: dict[int, asyncio.Future[float]] = {}
    loop = asyncio.get_running_loop()

    def sink(run_id: int, at: float) -> None:
        claimed.setdefault(run_id, loop.create_future()).set_result(at)

    store = TimedStore(db, sink)
    wakeup = Wakeup()
    worker = Worker(store, noop_handlers(), worker_id="bench-pickup", wakeup=wakeup)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    samples: list[float] = []
    try:
        await asyncio.sleep(0.2)
        for i in range(n + 1):
            await asyncio.sleep(_gap())
            async with db.begin() as conn:
                run_id = await enqueue_in(conn, store, catalog)
                waiter = claimed.setdefault(run_id, loop.create_future())
            committed = time.monotonic()
            wakeup.notify()
            at = await asyncio.wait_for(waiter, 10)
            if i:  # the first one warms up
                samples.append(at - committed)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await db.dispose()
    return latency(samples)


async def bench_pickup_listen(url: str, catalog: Catalog, n: int) -> dict[str, float]:
    """PostgreSQL: the worker in another process, woken through LISTEN/NOTIFY (PgListener)."""
    db = Database(url)
    store = run_store(db)
    children = Children(mp.get_context("spawn"))
    samples: list[float] = []
    try:
        children.start(
            [ChildConfig(url, "listener", 8, poll_interval=1.0, listen=True, report_claims=True)]
        )
        children.go.set()
        await asyncio.sleep(0.3)
        for i in range(n + 1):
            await asyncio.sleep(_gap())
            async with db.begin() as conn:
                run_id = await enqueue_in(conn, store, catalog)
            committed = time.monotonic()
            while True:
                claimed_id, at = await asyncio.to_thread(children.claims.get, True, 10)
                if claimed_id == run_id:
                    break
            if i:
                samples.append(at - committed)
        children.finish()
    finally:
        await db.dispose()
    return latency(samples)


# -- machine and report ------------------------------------------------------------------


async def bench_backend(backend: str, sizes: Sizes, keep: bool) -> dict[str, Any]:
    """Every measurement on one backend, on a fresh database."""
    url = await DATABASE.fresh(backend)
    db = Database(url)
    try:
        catalog = await seed_catalog(db)
    finally:
        await db.dispose()
    out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    try:
        _common.say(f"[{backend}] checkpoint latency ({sizes.checkpoint_runs * WORKER_PHASES} x)")
        out["checkpoint"] = await bench_checkpoint(url, catalog, sizes.checkpoint_runs)
        _common.say(
            f"[{backend}] throughput ({sizes.throughput_runs} runs, {sizes.processes} processes)"
        )
        out["throughput"] = await bench_throughput(url, catalog, sizes)
        _common.say(f"[{backend}] enqueue rate ({sizes.enqueues} x2)")
        out["enqueue"] = await bench_enqueue(url, catalog, sizes.enqueues, sizes.enqueue_tasks)
        _common.say(f"[{backend}] pickup latency, one process ({sizes.pickups} x)")
        out["pickup_in_process"] = await bench_pickup_in_process(url, catalog, sizes.pickups)
        if backend == "postgresql":
            _common.say(f"[{backend}] pickup latency, LISTEN/NOTIFY ({sizes.pickups} x)")
            out["pickup_listen"] = await bench_pickup_listen(url, catalog, sizes.pickups)
        out["load_after"] = os.getloadavg()[0]
    finally:
        if not keep:
            await DATABASE.drop(backend)
    return out


def _cell(results: dict[str, Any], backend: str, path: tuple[str, ...], fmt: str) -> str:
    node: Any = results.get(backend)
    if path == ("load",):
        return f"{node['load_before']:.1f} / {node['load_after']:.1f}" if node else "—"
    for key in path:
        if not isinstance(node, dict) or node.get(key) is None:
            return "—"
        node = node[key]
    return format(node, fmt)


ROWS: list[tuple[str, tuple[str, ...], str, str]] = [
    ("checkpoint p50 (ms)", ("checkpoint", "p50_ms"), ".2f", "≤ 2"),
    ("checkpoint p99 (ms)", ("checkpoint", "p99_ms"), ".2f", ""),
    ("checkpoint CPU, client (ms)", ("checkpoint", "cpu_ms"), ".2f", ""),
    ("phases/s, {p} worker processes", ("throughput", "phases_per_s"), ",.0f", "≥ 1,000 / ≥ 800"),
    ("runs/s, {p} worker processes", ("throughput", "runs_per_s"), ",.0f", ""),
    ("worker CPU per phase (ms)", ("throughput", "worker_cpu_ms_per_phase"), ".2f", ""),
    ("PG backend CPU per phase (ms)", ("throughput", "server_cpu_ms_per_phase"), ".2f", ""),
    ("machine CPU busy during it", ("throughput", "machine_cpu_busy"), ".0%", ""),
    ("DB connections opened during it", ("throughput", "connections_opened"), "d", ""),
    ("enqueue/s, sequential", ("enqueue", "sequential", "per_s"), ",.0f", ""),
    ("enqueue p50 (ms), sequential", ("enqueue", "sequential", "p50_ms"), ".2f", ""),
    ("enqueue/s, concurrent tasks", ("enqueue", "concurrent", "per_s"), ",.0f", ""),
    ("enqueue p99 (ms), concurrent", ("enqueue", "concurrent", "p99_ms"), ".2f", ""),
    ("pickup p50 (ms), one process", ("pickup_in_process", "p50_ms"), ".2f", ""),
    ("pickup p99 (ms), one process", ("pickup_in_process", "p99_ms"), ".2f", ""),
    ("pickup p50 (ms), LISTEN/NOTIFY", ("pickup_listen", "p50_ms"), ".2f", "≤ 10 (PG)"),
    ("pickup p99 (ms), LISTEN/NOTIFY", ("pickup_listen", "p99_ms"), ".2f", ""),
    ("1-min load average, before/after", ("load",), "", ""),
]


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table, one column per backend."""
    lines = [
        "| metric | SQLite | PostgreSQL | target |",
        "|---|---:|---:|---|",
    ]
    processes = results.get("sizes", {}).get("processes", "?")
    for template, path, fmt, target in ROWS:
        label = template.format(p=processes)
        sqlite_cell = _cell(results, "sqlite", path, fmt)
        pg_cell = _cell(results, "postgresql", path, fmt)
        lines.append(f"| {label} | {sqlite_cell} | {pg_cell} | {target} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sizes_from(args)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    info = _common.machine()
    if "postgresql" in backends:
        info["postgresql"] = await _common.pg_version()
    results: dict[str, Any] = {"machine": info}
    results["sizes"] = {
        "checkpoints": sizes.checkpoint_runs * WORKER_PHASES,
        "throughput_runs": sizes.throughput_runs,
        "enqueues": sizes.enqueues,
        "enqueue_tasks": sizes.enqueue_tasks,
        "pickups": sizes.pickups,
        "concurrency": sizes.concurrency,
        "processes": sizes.processes,
        "pool_size": sizes.pool_size or "default",
    }
    for backend in backends:
        results[backend] = await bench_backend(backend, sizes, args.keep)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=0, help="runs for the throughput test")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--concurrency", type=int, default=8, help="per worker process")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--pool-size", type=int, default=0, help="worker pool size (default: Database's)"
    )
    parser.add_argument("--enqueue-tasks", type=int, default=8, help="concurrent enqueuers")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(main_async(args))
    results["wall_s"] = time.perf_counter() - started
    _common.RESULTS.mkdir(exist_ok=True)
    (_common.RESULTS / "engine.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    for key, value in results["machine"].items():
        print(f"{key:>11}: {value}")
    print()
    print(table(results))
    print()
    for backend in ("sqlite", "postgresql"):
        tp = results.get(backend, {}).get("throughput")
        if tp:
            print(
                f"{backend}: {tp['runs']} runs in {tp['elapsed_s']:.2f} s, "
                f"{tp['processes']} processes x concurrency {tp['concurrency']}, "
                f"phases by process {tp['phases_by_process']}, "
                f"unfinished {tp['unfinished']}, failed {tp['failed']}"
            )
    print(f"wall time {results['wall_s']:.0f} s; raw results in {_common.RESULTS / 'engine.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
