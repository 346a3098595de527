"""Webhook benchmark: signed Stripe deliveries per second through `POST /webhooks/stripe`.

The production path end to end: the API runs in a process of its own (uvicorn through
`LoopbackServer`, the app from `create_app(build(Settings()))`, as `fluxbilling serve` builds
it, but without the worker), and a load generator in this process sends pre-signed
`checkout.session.completed` deliveries over HTTP/1.1 keep-alive (`--concurrency` requests
in flight; `--client raw`, the default, is a minimal keep-alive client that leaves the
machine's CPUs to the server and the database, `--client httpx` the client of earlier runs).
Each delivery is stored raw, verified, deduplicated on the event id, and
a first delivery marks its invoice paid, moves the order and enqueues the provisioning run.

    .venv/bin/python bench/webhooks.py [--backend sqlite|postgresql|both] [--quick]
                                       [--duplicates 0,0.5,0.9] [--concurrency 32]
                                       [--deliveries N] [--warmup N] [--rate R]
                                       [--client raw|httpx] [--profile] [--breakdown]
                                       [--keep] [--nagle] [--no-gc-freeze] [--db-pool-size N]
                                       [--worker-concurrency N]

The server process is set up as `run_serve` sets it up: `LoopbackServer` (TCP_NODELAY on
its socket) and, once it listens, `server.freeze_startup_objects()` (`gc.collect()` +
`gc.freeze()`); it does not call `run_serve` itself because that starts a worker too.

`--profile` runs cProfile in the server process for the timed part (the dump is saved in
`bench/.results/`), `--breakdown` times the stages of the webhook path in the server
(bench-only wrappers; exact CPU figures need `--concurrency 1`). `--nagle`,
`--no-gc-freeze`, `--db-pool-size` and `--worker-concurrency` are experiments that change the
server from what `fluxbilling serve` runs (the first two undo a start-up setting, to measure
what it is worth); the printed header names them.

`--duplicates 0.5`: half of the timed deliveries repeat an event that was sent earlier (at
least `--concurrency` deliveries earlier when there is one, so the original is normally
committed already). Every (backend, ratio) pair starts from a fresh database holding only
its pre-created orders and unpaid invoices (`orders.service.create_order`); no worker runs.
After each run the database is checked: one payment, one run, one billing checkpoint per
distinct invoice, one `webhook_events` row per delivery, every outcome as expected. A
mismatch stops the benchmark.

The SQLite file lives in `bench/.results/` (ignored by git); PostgreSQL uses its own database
`fluxbilling_bench_webhooks` (dropped and re-created; `FLUXBILLING_BENCH_PG_URL` points at the
server's admin database). Results are printed as a Markdown table and saved as JSON in
`bench/.results/webhooks.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import contextvars
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import random
import socket
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _clients
import _common
import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.db import Database, schema
from fluxbilling.orders.service import create_order
from fluxbilling.seed import seed_bare_product
from fluxbilling.vault import generate_key
from fluxbilling_simulators import stripe as stripe_sim

DATABASE = _common.BenchDatabase(pg_name="fluxbilling_bench_webhooks", sqlite_name="webhooks.db")
SECRET = "whsec_bench_webhooks_0123456789abcdef"  # noqa: S105 (bench-only endpoint)
PRODUCT = "bench-webhooks"
SIGNATURE_TOLERANCE = 300  # seconds; verify_signature's default

# -- databases and set-up ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invoice:
    """An unpaid invoice the deliveries pay."""

    id: int
    amount_minor: int
    currency: str


async def create_invoices(url: str, n: int, tasks: int = 4) -> list[Invoice]:
    """The product, then `n` orders with unpaid invoices through `create_order` (set-up)."""
    db = Database(url, pool_size=tasks)
    made: list[Invoice] = []
    try:
        async with db.begin() as conn:
            await seed_bare_product(conn, slug=PRODUCT)
        counter = iter(range(n))

        async def creator() -> None:
            for i in counter:
                created = await create_order(
                    db,
                    customer_email=f"customer-{i % 50}@example.com",
                    customer_name=f"Customer {i % 50}",
                    product_slug=PRODUCT,
                    hostname=f"vps-{i}.bench.example.com",
                )
                inv = created.invoice
                made.append(Invoice(inv.id, inv.amount_minor, inv.currency))

        await asyncio.gather(*(creator() for _ in range(tasks)))
    finally:
        await db.dispose()
    made.sort(key=lambda inv: inv.id)
    return made


# -- deliveries --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST: the exact body and its headers (signed at generation time)."""

    event_id: str
    body: bytes
    headers: dict[str, str]
    duplicate: bool


def _signed(body: bytes, t: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        stripe_verify.SIGNATURE_HEADER: stripe_verify.sign(body, SECRET, t),
    }


def build_deliveries(
    invoices: list[Invoice], n: int, duplicates: float, gap: int, rng: random.Random
) -> list[Delivery]:
    """`n` deliveries, `round(n * duplicates)` of them repeats of an earlier event.

    The distinct events pay `invoices` in order (one event per invoice). A repeat copies the
    body of an event introduced at least `gap` positions earlier when there is one (else any
    earlier one), like a gateway retry; every delivery is signed with the current time.
    """
    repeats = round(n * duplicates)
    distinct = n - repeats
    if distinct < 1 or distinct > len(invoices):
        msg = f"{n} deliveries at {duplicates:.0%} duplicates need {distinct} invoices"
        raise ValueError(msg)
    flags = [False] * distinct + [True] * repeats
    rng.shuffle(flags)
    flags.remove(False)
    flags.insert(0, False)  # the first delivery cannot repeat anything
    now = int(time.time())
    positions: list[int] = []  # where each distinct event was introduced
    events: list[tuple[str, bytes]] = []
    out: list[Delivery] = []
    for i, repeat in enumerate(flags):
        if repeat:
            ready = bisect.bisect_right(positions, i - gap)
            event_id, body = events[rng.randrange(ready or len(events))]
        else:
            inv = invoices[len(events)]
            event_id = f"evt_bench_{inv.id}_{rng.getrandbits(48):012x}"
            body = stripe_sim.checkout_completed(
                inv.id, inv.amount_minor, inv.currency, event_id=event_id, created=now
            )
            positions.append(i)
            events.append((event_id, body))
        out.append(Delivery(event_id, body, _signed(body, now), repeat))
    return out


# -- the load generator ------------------------------------------------------------------


@dataclass(slots=True)
class Fired:
    """What one batch of deliveries got back."""

    elapsed: float
    latencies: list[float]
    outcomes: Counter[str]
    statuses: Counter[int]
    errors: list[str]


async def _send(client: _clients.Client, delivery: Delivery, fired: Fired, since: float) -> None:
    try:
        answer = await client.post("/webhooks/stripe", delivery.body, delivery.headers)
    except _clients.TransportError as exc:
        fired.errors.append(str(exc))
        return
    fired.latencies.append(time.perf_counter() - since)
    fired.statuses[answer.status] += 1
    if answer.status == 200:
        fired.outcomes[str(json.loads(answer.body).get("outcome"))] += 1
    elif len(fired.errors) < 20:
        fired.errors.append(f"HTTP {answer.status}: {answer.body[:300].decode(errors='replace')}")


async def fire(
    client: _clients.Client, deliveries: list[Delivery], concurrency: int, rate: float = 0.0
) -> Fired:
    """Send every delivery; closed loop with `concurrency` in flight, or open loop at `rate`/s.

    Closed loop: each of `concurrency` tasks sends the next delivery as soon as its previous
    one is answered; latency is from send to answer. Open loop: delivery i is due at
    `start + i / rate` whatever the server does (at most `concurrency` in flight, the rest
    wait in the client); latency is from when it was due, so queueing counts.
    """
    fired = Fired(0.0, [], Counter(), Counter(), [])
    started = time.perf_counter()
    if rate > 0:
        # Late deliveries wait on a semaphore, not in the client's pool: httpx's queue costs
        # CPU per waiting request on every hand-over.
        slots = asyncio.Semaphore(concurrency)

        async def due_send(delivery: Delivery, due: float) -> None:
            async with slots:
                await _send(client, delivery, fired, due)

        pending: list[asyncio.Task[None]] = []
        for i, delivery in enumerate(deliveries):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(due_send(delivery, due)))
        await asyncio.gather(*pending)
    else:
        queue = iter(deliveries)

        async def sender() -> None:
            for delivery in queue:
                await _send(client, delivery, fired, time.perf_counter())

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    fired.elapsed = time.perf_counter() - started
    return fired


# -- the API server process --------------------------------------------------------------


class ServerProcess:
    """The API in a child process (`python bench/webhooks.py --serve-child`), driven by lines
    on its stdin: `mark [profile path]`, `report`, `quit`."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url

    @classmethod
    async def start(
        cls,
        database_url: str,
        *,
        breakdown: bool = False,
        nagle: bool = False,
        gc_freeze: bool = True,
        db_pool_size: int | None = None,
        worker_concurrency: int | None = None,
    ) -> ServerProcess:
        env = dict(os.environ)
        env.update(
            FLUXBILLING_DATABASE_URL=database_url,
            FLUXBILLING_SECRET_KEY=generate_key(),
            FLUXBILLING_API_TOKEN="bench-" + os.urandom(12).hex(),
            FLUXBILLING_STRIPE_WEBHOOK_SECRET=SECRET,
            FLUXBILLING_STATE_DIR=str(_common.RESULTS / "webhooks-state"),
        )
        if worker_concurrency:
            env["FLUXBILLING_WORKER_CONCURRENCY"] = str(worker_concurrency)
        if db_pool_size:
            env["FLUXBILLING_DB_POOL_SIZE"] = str(db_pool_size)
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve-child"]
        if breakdown:
            argv.append("--breakdown")
        if nagle:
            argv.append("--nagle")
        if not gc_freeze:
            argv.append("--no-gc-freeze")
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        server = cls(proc, "")
        line = await server._line(timeout=120)
        if not line.startswith("READY "):
            msg = f"the API process did not start: {line!r}"
            raise RuntimeError(msg)
        server.url = line.split(" ", 1)[1]
        return server

    async def _line(self, timeout: float = 60) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            msg = f"the API process exited (code {await self.proc.wait()})"
            raise RuntimeError(msg)
        return raw.decode().strip()

    async def command(self, line: str) -> str:
        """Send one command line; returns the answer line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._line()

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (all its threads)."""
        return _common.proc_cpu(self.proc.pid) or 0.0

    async def quit(self) -> None:
        """Stop the server and wait for the process."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.command("quit")
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# -- inside the server process -----------------------------------------------------------

_TX = contextvars.ContextVar("bench_tx", default="tx2 (process)")


class Stages:
    """Wall and thread CPU time per stage of a delivery, summed (`--breakdown`).

    The CPU column is exact only with `--concurrency 1`: with more requests in flight, other
    requests run on the event loop while a stage awaits the database, and are counted too.
    """

    def __init__(self) -> None:
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.longest: defaultdict[str, float] = defaultdict(float)

    @staticmethod
    def start() -> tuple[float, float]:
        return time.perf_counter(), time.thread_time()

    def add(self, name: str, started: tuple[float, float]) -> None:
        wall = time.perf_counter() - started[0]
        self.wall[name] += wall
        self.cpu[name] += time.thread_time() - started[1]
        self.calls[name] += 1
        self.longest[name] = max(self.longest[name], wall)

    def track_gc(self) -> None:
        """Time the garbage collector's pauses too (they stop every request in flight)."""
        started: list[tuple[float, float]] = []

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[:] = [self.start()]
            elif started:
                self.add(f"garbage collection, generation {info['generation']}", started.pop())

        gc.callbacks.append(on_gc)

    async def watch_loop(self, tick: float = 0.01) -> None:
        """Record how late a `tick` sleep wakes up: the event loop's lag (runs until cancelled)."""
        while True:
            wall, cpu = self.start()
            await asyncio.sleep(tick)
            self.add("event loop lag (late wake-up of a 10 ms sleep)", (wall + tick, cpu))

    def reset(self) -> None:
        self.wall.clear()
        self.cpu.clear()
        self.calls.clear()
        self.longest.clear()

    def report(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "wall_s": self.wall[name],
                "cpu_s": self.cpu[name],
                "calls": self.calls[name],
                "longest_s": self.longest[name],
            }
            for name in self.wall
        }

    def timed(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """An async function that adds its time to `name`."""

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = self.start()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, started)

        return wrapper

    def timed_sync(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A function that adds its time to `name`."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = self.start()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, started)

        return wrapper


def instrument(installation: Any, app: Any, stages: Stages) -> Any:
    """Time the stages of the webhook path (bench-only wrappers; `src/` is unchanged)."""
    from fluxbilling.billing.webhooks import GatewayEndpoint

    db = installation.db
    original_begin = db.begin

    @contextlib.asynccontextmanager
    async def timed_begin() -> AsyncIterator[AsyncConnection]:
        started = stages.start()
        manager = original_begin()
        conn = await manager.__aenter__()
        stages.add(f"{_TX.get()}: pool checkout + BEGIN", started)
        try:
            yield conn
        except BaseException:
            await manager.__aexit__(*sys.exc_info())
            raise
        started = stages.start()
        await manager.__aexit__(None, None, None)
        stages.add(f"{_TX.get()}: COMMIT + release", started)

    db.begin = timed_begin
    store_raw = GatewayEndpoint._store_raw

    async def raw(self: Any, *args: Any) -> Any:
        token = _TX.set("tx1 (store raw)")
        try:
            return await store_raw(self, *args)
        finally:
            _TX.reset(token)

    wrapped: dict[str, tuple[str, Callable[..., Awaitable[Any]]]] = {
        "_store_raw": ("tx1 (store raw), all", raw),
        "_process": ("tx2: dedupe + ledger statements", GatewayEndpoint._process),
        "ingest": ("ingest(), all", GatewayEndpoint.ingest),
    }
    for attribute, (label, fn) in wrapped.items():
        setattr(GatewayEndpoint, attribute, stages.timed(label, fn))
    for module, name in (
        (stripe_verify, "verify_signature"),
        (stripe_events, "parse_event"),
        (stripe_events, "classify"),
    ):
        setattr(module, name, stages.timed_sync(f"{name}()", getattr(module, name)))

    statement_started: dict[int, tuple[float, float]] = {}

    def before(conn: Any, *_: Any) -> None:
        statement_started[id(conn)] = stages.start()

    def after(conn: Any, *_: Any) -> None:
        started = statement_started.pop(id(conn), None)
        if started is not None:
            stages.add("driver execute (incl. round trip), per statement", started)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    sa.event.listen(db.engine.sync_engine, "after_cursor_execute", after)

    stages.track_gc()

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        started = stages.start()
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                stages.add("ASGI app (FastAPI + endpoint), all", started)

    return timed_app


async def serve_child(breakdown: bool, nagle: bool, gc_freeze: bool) -> None:
    """The API server process: `fluxbilling serve` without its worker, plus a control pipe.

    Built in `run_serve`'s order: `prepare`, the app, `LoopbackServer`, start, then
    `freeze_startup_objects()` (unless `--no-gc-freeze`).
    """
    from fluxbilling import logs
    from fluxbilling import server as serving
    from fluxbilling.api import create_app
    from fluxbilling.bootstrap import build
    from fluxbilling.config import Settings

    logs.configure(logging.INFO)  # as `fluxbilling serve`
    installation = build(Settings())
    opened = [0]
    sa.event.listen(
        installation.db.engine.sync_engine,
        "connect",
        lambda *_: opened.__setitem__(0, opened[0] + 1),
    )
    await serving.prepare(installation)
    stages = Stages()
    app: Any = create_app(installation)
    watcher: asyncio.Task[None] | None = None
    if breakdown:
        app = instrument(installation, app, stages)
        watcher = asyncio.create_task(stages.watch_loop())
    server = serving.LoopbackServer(app)
    if nagle:
        # Experiment: the server before TCP_NODELAY. Accepted sockets copy the option from
        # the listening one, and asyncio leaves them alone (the socket's proto is 0).
        server.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    await server.start()
    if gc_freeze:
        serving.freeze_startup_objects()
    print(f"READY {server.url}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    profiler: cProfile.Profile | None = None
    profile_path = ""
    opened_at_mark = 0
    try:
        while line := (await reader.readline()).decode().strip():
            command, _, argument = line.partition(" ")
            if command == "mark":
                stages.reset()
                opened_at_mark = opened[0]
                profile_path = argument
                if profile_path:
                    profiler = cProfile.Profile()
                    profiler.enable()
                print("OK", flush=True)
            elif command == "report":
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(profile_path)
                    profiler = None
                report = {
                    "connections_opened": opened[0] - opened_at_mark,
                    "stages": stages.report(),
                }
                print(json.dumps(report), flush=True)
            elif command == "quit":
                break
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()
        await installation.close()


# -- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """What to measure and how."""

    deliveries: int
    warmup: int
    concurrency: int
    rate: float
    profile: bool
    breakdown: bool
    client: str
    nagle: bool
    gc_freeze: bool
    db_pool_size: int | None
    worker_concurrency: int | None
    keep: bool
    seed: int


async def measure(backend: str, duplicates: float, opts: Options) -> dict[str, Any]:
    """One (backend, duplicate ratio) case on a fresh database; verified afterwards."""
    rng = random.Random(f"{opts.seed}-{backend}-{duplicates}")
    distinct = opts.deliveries - round(opts.deliveries * duplicates)
    _common.say(f"[{backend} dup={duplicates:.0%}] fresh database, {opts.warmup + distinct} orders")
    url = await DATABASE.fresh(backend)
    invoices = await create_invoices(url, opts.warmup + distinct)
    server = await ServerProcess.start(
        url,
        breakdown=opts.breakdown,
        nagle=opts.nagle,
        gc_freeze=opts.gc_freeze,
        db_pool_size=opts.db_pool_size,
        worker_concurrency=opts.worker_concurrency,
    )
    tag = f"{backend}-dup{round(duplicates * 100)}"
    profile_path = str(_common.RESULTS / f"webhooks-{tag}.prof") if opts.profile else ""
    client = _clients.open_client(opts.client, server.url, opts.concurrency)
    try:
        warm = build_deliveries(invoices[: opts.warmup], opts.warmup, 0.0, 0, rng)
        warmed = await fire(client, warm, opts.concurrency)
        _check_fired(warmed, len(warm), {"processed": len(warm)}, "warm-up")
        timed = build_deliveries(
            invoices[opts.warmup :], opts.deliveries, duplicates, opts.concurrency, rng
        )
        signed_at = time.time()
        await server.command(f"mark {profile_path}".strip())
        _common.say(f"[{backend} dup={duplicates:.0%}] {len(timed)} deliveries")
        load_before = os.getloadavg()[0]
        pg_before = {} if backend == "sqlite" else await _common.pg_backend_cpu(url)
        ticks_before, server_before = _common.cpu_ticks(), server.cpu_seconds()
        client_before = time.process_time()
        fired = await fire(client, timed, opts.concurrency, opts.rate)
        client_cpu = time.process_time() - client_before
        server_cpu = server.cpu_seconds() - server_before
        ticks_after = _common.cpu_ticks()
        pg_after = {} if backend == "sqlite" else await _common.pg_backend_cpu(url)
        report = json.loads(await server.command("report"))
    finally:
        await client.aclose()
        await server.quit()
    expected = {"processed": distinct, "duplicate": opts.deliveries - distinct}
    if time.time() - signed_at > SIGNATURE_TOLERANCE:
        _common.say("warning: the run outlasted the signature tolerance; expect InvalidWebhook")
    _check_fired(fired, len(timed), expected, "timed run")
    checks = await verify(url, opts.warmup + distinct, opts.warmup + opts.deliveries)
    if not opts.keep:
        await DATABASE.drop(backend)
    n = len(timed)
    busy = (ticks_after[0] - ticks_before[0]) / max(1, ticks_after[1] - ticks_before[1])
    pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
    return {
        "backend": backend,
        "duplicates": duplicates,
        "deliveries": n,
        "distinct_events": distinct,
        "concurrency": opts.concurrency,
        "rate": opts.rate or None,
        "elapsed_s": fired.elapsed,
        "per_s": n / fired.elapsed,
        "p50_ms": 1000 * _common.percentile(fired.latencies, 0.50),
        "p95_ms": 1000 * _common.percentile(fired.latencies, 0.95),
        "p99_ms": 1000 * _common.percentile(fired.latencies, 0.99),
        "max_ms": 1000 * max(fired.latencies),
        "outcomes": dict(fired.outcomes),
        "server_cpu_ms": 1000 * server_cpu / n,
        "pg_cpu_ms": 1000 * pg_cpu / n if backend == "postgresql" else None,
        "client_cpu_ms": 1000 * client_cpu / n,
        "machine_busy": busy,
        "connections_opened": report["connections_opened"],
        "stages": report["stages"],
        "profile": profile_path or None,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "verified": checks,
    }


def _check_fired(fired: Fired, n: int, expected: dict[str, int], what: str) -> None:
    problems = []
    if fired.statuses != Counter({200: n}):
        problems.append(f"HTTP statuses {dict(fired.statuses)} (expected {n} x 200)")
    if fired.outcomes != Counter(expected):
        problems.append(f"outcomes {dict(fired.outcomes)} (expected {expected})")
    if problems:
        details = "\n  ".join([*problems, *fired.errors[:10]])
        msg = f"{what}: the server did not answer as expected:\n  {details}"
        raise SystemExit(msg)


async def verify(url: str, paid: int, deliveries: int) -> dict[str, int]:
    """Check the database after a case; raises SystemExit on any mismatch."""
    t = schema
    count = sa.func.count()
    queries: dict[str, tuple[sa.Select[Any], int]] = {
        "webhook_events rows": (sa.select(count).select_from(t.webhook_events), deliveries),
        "valid deliveries": (
            sa.select(count).where(t.webhook_events.c.verification == "valid"),
            deliveries,
        ),
        "deliveries processed": (
            sa.select(count).where(t.webhook_events.c.outcome == "processed"),
            paid,
        ),
        "deliveries duplicate": (
            sa.select(count).where(t.webhook_events.c.outcome == "duplicate"),
            deliveries - paid,
        ),
        "processed_events rows": (sa.select(count).select_from(t.processed_events), paid),
        "payments": (sa.select(count).select_from(t.payments), paid),
        "invoices with a payment": (
            sa.select(sa.func.count(sa.distinct(t.payments.c.invoice_id))),
            paid,
        ),
        "paid invoices": (sa.select(count).where(t.invoices.c.status == "paid"), paid),
        "invoices not paid": (sa.select(count).where(t.invoices.c.status != "paid"), 0),
        "runs": (sa.select(count).select_from(t.runs), paid),
        "orders with a run": (sa.select(sa.func.count(sa.distinct(t.runs.c.order_id))), paid),
        "orders provisioning_pending": (
            sa.select(count).where(t.orders.c.state == "provisioning_pending"),
            paid,
        ),
        "billing checkpoints": (
            sa.select(count).where(
                t.phase_checkpoints.c.phase == "billing", t.phase_checkpoints.c.status == "done"
            ),
            paid,
        ),
        "runs whose invoice is not paid": (
            sa.select(count)
            .select_from(t.runs.join(t.invoices, t.invoices.c.order_id == t.runs.c.order_id))
            .where(t.invoices.c.status != "paid"),
            0,
        ),
    }
    db = Database(url)
    found: dict[str, int] = {}
    try:
        async with db.connect() as conn:
            for name, (query, _) in queries.items():
                found[name] = int((await conn.execute(query)).scalar_one())
    finally:
        await db.dispose()
    wrong = [
        f"{k}: {found[k]} (expected {want})" for k, (_, want) in queries.items() if found[k] != want
    ]
    if wrong:
        msg = "verification FAILED:\n  " + "\n  ".join(wrong)
        raise SystemExit(msg)
    return found


# -- machine and report ------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the numbers were measured on, with the HTTP stack's versions."""
    import fastapi
    import uvicorn

    return _common.machine() | {
        "uvicorn": uvicorn.__version__,
        "fastapi": fastapi.__version__,
        "httpx": httpx.__version__,
    }


def _opt(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def table(cases: list[dict[str, Any]]) -> str:
    """One row per (backend, duplicate ratio)."""
    lines = [
        "| backend | duplicates | deliveries/s | p50 ms | p95 ms | p99 ms | processed / duplicate "
        "| server CPU ms | PG CPU ms | client CPU ms | machine busy | conns opened | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in cases:
        outcomes = c["outcomes"]
        lines.append(
            f"| {c['backend']} | {c['duplicates']:.0%} | **{c['per_s']:,.0f}** "
            f"| {c['p50_ms']:.1f} | {c['p95_ms']:.1f} | {c['p99_ms']:.1f} "
            f"| {outcomes.get('processed', 0):,} / {outcomes.get('duplicate', 0):,} "
            f"| {c['server_cpu_ms']:.2f} | {_opt(c['pg_cpu_ms'], '.2f')} "
            f"| {c['client_cpu_ms']:.2f} | {c['machine_busy']:.0%} | {c['connections_opened']} "
            f"| {c['load_before']:.1f} / {c['load_after']:.1f} |"
        )
    return "\n".join(lines)


def breakdown_table(case: dict[str, Any]) -> str:
    """The `--breakdown` stages of one case: ms per delivery (wall and the thread's CPU)."""
    n = case["deliveries"]
    lines = [
        "| stage | wall ms / delivery | CPU ms / delivery | calls / delivery | longest ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in sorted(case["stages"].items(), key=lambda kv: -kv[1]["wall_s"]):
        lines.append(
            f"| {name} | {1000 * s['wall_s'] / n:.2f} | {1000 * s['cpu_s'] / n:.2f} "
            f"| {s['calls'] / n:.2f} | {1000 * s['longest_s']:.0f} |"
        )
    return "\n".join(lines)


def _package(filename: str, function: str) -> str:
    """Where a profiled function lives: a site package, fluxbilling, the stdlib or C."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/fluxbilling/" in filename:
        return "fluxbilling"
    if filename == "~":  # a C function: name the socket calls, lump the rest
        return function if "socket" in function else "C builtins"
    return "stdlib (" + Path(filename).name + ")" if "/python3" in filename else filename


def profile_summary(path: str, limit: int = 20) -> str:
    """A cProfile dump: own time by package, then the top functions by own time."""
    stats = pstats.Stats(path)
    by_package: Counter[str] = Counter()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, own, *_rest) in raw.items():
        by_package[_package(filename, function)] += own
    total = sum(by_package.values()) or 1.0
    lines = ["| where (own time) | share |", "|---|---:|"]
    lines += [f"| {name} | {seconds / total:.1%} |" for name, seconds in by_package.most_common(12)]
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return "\n".join(lines) + "\n" + out.getvalue()


def _ratios(text: str) -> list[float]:
    ratios = [float(v) for v in text.split(",") if v.strip()]
    if not ratios or any(not 0 <= r < 1 for r in ratios):
        msg = "--duplicates takes ratios in [0, 1), comma-separated"
        raise argparse.ArgumentTypeError(msg)
    return ratios


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    deliveries = args.deliveries or (600 if args.quick else 5000)
    opts = Options(
        deliveries=deliveries,
        warmup=args.warmup if args.warmup is not None else 2 * args.concurrency,
        concurrency=args.concurrency,
        rate=args.rate,
        profile=args.profile,
        breakdown=args.breakdown,
        client=args.client,
        nagle=args.nagle,
        gc_freeze=not args.no_gc_freeze,
        db_pool_size=args.db_pool_size,
        worker_concurrency=args.worker_concurrency,
        keep=args.keep,
        seed=args.seed,
    )
    info = machine()
    if "postgresql" in backends:
        info["postgresql"] = await _common.pg_version()
    results: dict[str, Any] = {"machine": info, "options": vars(args) | {"deliveries": deliveries}}
    results["cases"] = [
        await measure(backend, ratio, opts) for backend in backends for ratio in args.duplicates
    ]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--duplicates", type=_ratios, default=[0.0, 0.5, 0.9], help="ratios, e.g. 0,0.5,0.9"
    )
    parser.add_argument("--quick", action="store_true", help="600 deliveries per case")
    parser.add_argument("--deliveries", type=int, default=0, help="timed deliveries per case")
    parser.add_argument("--warmup", type=int, default=None, help="default: 2 x concurrency")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="open loop: deliveries/s offered (0: closed loop)"
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=None,
        help="FLUXBILLING_WORKER_CONCURRENCY of the API process (sizes its pool)",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="the load generator's HTTP client (raw: keep-alive over asyncio streams, cheap)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the server process")
    parser.add_argument("--breakdown", action="store_true", help="time the stages in the server")
    parser.add_argument(
        "--db-pool-size",
        type=int,
        default=None,
        help="experiment: FLUXBILLING_DB_POOL_SIZE of the API process",
    )
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="experiment: TCP_NODELAY off on the API's socket (the server before 50cf41f)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="experiment: no gc.freeze() after the API's start-up (the server before 50cf41f)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the last bench database")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        asyncio.run(serve_child(args.breakdown, args.nagle, not args.no_gc_freeze))
        return 0
    started = time.perf_counter()
    results = asyncio.run(main_async(args))
    results["wall_s"] = time.perf_counter() - started
    _common.RESULTS.mkdir(exist_ok=True)
    (_common.RESULTS / "webhooks.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    for key, value in results["machine"].items():
        print(f"{key:>11}: {value}")
    print()
    mode = f"open loop at {args.rate:g}/s" if args.rate else "closed loop"
    changes = [
        *(["Nagle on (no TCP_NODELAY)"] if args.nagle else []),
        *(["no gc.freeze"] if args.no_gc_freeze else []),
        *([f"db pool size {args.db_pool_size}"] if args.db_pool_size else []),
        *([f"worker concurrency {args.worker_concurrency}"] if args.worker_concurrency else []),
    ]
    server = "EXPERIMENT: " + ", ".join(changes) if changes else "as `fluxbilling serve`, no worker"
    print(
        f"{mode}, concurrency {args.concurrency}, {args.client} client, CPU columns are per "
        f"delivery; server {server}"
    )
    print()
    print(table(results["cases"]))
    for case in results["cases"]:
        if case["stages"]:
            print(f"\n{case['backend']}, {case['duplicates']:.0%} duplicates:\n")
            print(breakdown_table(case))
        if case["profile"]:
            print(f"\nprofile {case['profile']}:\n")
            print(profile_summary(case["profile"]))
    for case in results["cases"]:
        if case["backend"] == "postgresql":
            met = case["per_s"] >= 500 and case["p99_ms"] < 50
            print(
                f"aim (PostgreSQL >= 500/s, p99 < 50 ms) at {case['duplicates']:.0%} duplicates: "
                + ("met" if met else "MISSED")
            )
    print(
        f"wall time {results['wall_s']:.0f} s; raw results in {_common.RESULTS / 'webhooks.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
