"""Chaos: 200+ paid orders through worker processes that are SIGKILLed and SIGSTOPped meanwhile.

On each backend (a SQLite file shared by the processes, a fresh PostgreSQL database):

- the SolusVM 2 simulator runs as its own process and injects ~10 % faults (500, 503 and
  answers slower than the workers' HTTP timeout, processed anyway);
- three `fluxbilling worker` processes run the pipeline with a short lease;
- the test process places the orders and pays them through the real code path
  (`create_order`, then a Stripe-signed `checkout.session.completed` ingested by
  `StripeEndpoint`), while a seeded chaos monkey SIGKILLs workers at random moments
  (starting a replacement each time) and SIGSTOPs a worker that holds leases for longer
  than its lease, then SIGCONTs it. A worker stopped inside a transaction (SQLite's write
  lock, PostgreSQL's host row locks during allocation) stalls the others instead of
  losing its leases, so the pause is retried on another busy worker until one of the
  paused worker's runs was taken over.

It passes only if every order ends `active` in bounded time, the simulator holds exactly
one server per order, every run has exactly one `phase_completed` row per phase, no write
of a fenced-out worker landed (per run, activity rows carry non-decreasing lease tokens and
each token belongs to one worker), the paused worker really lost a lease, every order has
exactly one welcome mail, sent, and its own address (never the gateway or a resolver).
Worker and simulator logs stay under the test's tmp_path/logs.
"""

from __future__ import annotations

import ipaddress
import os
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.webhooks import StripeEndpoint
from fluxbilling.config import Settings
from fluxbilling.db import Database, schema
from fluxbilling.orders import service
from fluxbilling.orders.pipeline import PHASES
from fluxbilling.seed import PRODUCT_SLUG, seed_catalogue
from fluxbilling.simulators import stripe as stripe_sim
from fluxbilling.simulators.mailbox import CapturingSmtpServer
from fluxbilling.vault import generate_key
from tests.chaos.harness import Child, Fleet, free_port, wait_http

pytestmark = [pytest.mark.chaos, pytest.mark.anyio]

SEED = 20_241_126
ORDERS = 210
WORKERS = 3
KILLS = 6
LEASE_SECONDS = 3.0
HTTP_TIMEOUT = 1.0
SIM_TOKEN = "chaos-solusvm2-token"
SIM_FAIL_RATE = 0.1
SIM_TIMEOUT_DELAY = 1.5  # a bit above HTTP_TIMEOUT: the worker gives up, the simulator still acts
SIM_POLLS_UNTIL_STARTED = 2
# A paused worker may hold the SQLite write lock: everybody else waits, so the pause stays
# well below the busy timeout (30 s); when nobody could take a lease over, pause another.
PAUSE_MIN_SECONDS = 2 * LEASE_SECONDS + 0.5
PAUSE_MAX_SECONDS = 4 * LEASE_SECONDS
PICK_PATIENCE_SECONDS = 20.0
SETTLE_SECONDS = 150.0  # every order must be active this long after the last one was paid
TEST_SECONDS = 240.0  # hard bound on the whole test body
CIDR = "10.20.0.0/16"


@dataclass
class ChaosLog:
    """What the monkey did, for the assertions and the summary."""

    kills: int = 0
    orphaned_leases: int = 0
    pauses: int = 0
    paused_pids: list[int] = field(default_factory=list)
    paused_held: int = 0
    takeovers: int = 0
    timeline: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, message: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {message}")


@dataclass
class Rig:
    """Everything one chaos run uses."""

    db: Database
    fleet: Fleet
    worker_env: dict[str, str]
    rng: random.Random
    chaos: ChaosLog = field(default_factory=ChaosLog)

    def start_worker(self) -> Child:
        return self.fleet.python("worker", "fluxbilling.cli", "worker", env=self.worker_env)


def hostname(n: int) -> str:
    return f"chaos-{n:03d}.example.com"


def owner_pid(lease_owner: str) -> int:
    """Worker ids are `host:pid:random`."""
    return int(lease_owner.rsplit(":", 2)[1])


@dataclass(frozen=True)
class Lease:
    """A run leased by some worker, as the database shows it."""

    run_id: int
    token: int
    phase: str


async def held_leases(db: Database) -> dict[int, list[Lease]]:
    """`{worker pid: leases}` of the runs leased right now."""
    runs = schema.runs
    async with db.connect() as conn:
        found = (
            await conn.execute(
                sa.select(runs.c.id, runs.c.lease_owner, runs.c.lease_token, runs.c.phase).where(
                    runs.c.state == "running", runs.c.lease_owner.is_not(None)
                )
            )
        ).all()
    held: dict[int, list[Lease]] = defaultdict(list)
    for row in found:
        held[owner_pid(row.lease_owner)].append(Lease(row.id, row.lease_token, row.phase))
    return held


async def lease_tokens(db: Database, run_ids: list[int]) -> dict[int, int]:
    runs = schema.runs
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(runs.c.id, runs.c.lease_token).where(runs.c.id.in_(run_ids))
            )
        ).all()
    return {row.id: row.lease_token for row in rows}


# -- the monkey ------------------------------------------------------------------------------


async def kill_one(rig: Rig) -> None:
    """SIGKILL a random running worker and start its replacement."""
    candidates = [c for c in rig.fleet.live("worker") if not c.stopped]
    victim = rig.rng.choice(candidates)
    held = (await held_leases(rig.db)).get(victim.pid, [])
    victim.kill()
    rig.chaos.kills += 1
    rig.chaos.orphaned_leases += len(held)
    replacement = rig.start_worker()
    rig.chaos.note(
        f"SIGKILL {victim.name} (pid {victim.pid}, {len(held)} leases held); "
        f"started {replacement.name}"
    )


async def lock_waiters(db: Database) -> int:
    """PostgreSQL sessions waiting for a lock (0 on SQLite, where that is not visible)."""
    if db.is_sqlite:
        return 0
    async with db.connect() as conn:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await conn.execute(query)).scalar_one())


async def pick_busy_worker(rig: Rig, avoid: Child | None, finished: anyio.Event) -> Child | None:
    """A running worker holding leases, preferably none at allocation, preferably not `avoid`.

    Allocation is one transaction under the hosts' row locks (on SQLite, the write lock). A
    worker stopped while one of its allocations holds them, or merely queues for them (the
    lock is then handed to a session whose client is stopped), stalls every allocation, and
    the others' slots fill with allocations waiting for it: nobody takes its leases over.
    So wait a while for a worker busy with other phases (HTTP, outside transactions).
    """
    settled = time.monotonic() + PICK_PATIENCE_SECONDS
    while not finished.is_set() and time.monotonic() < settled + PICK_PATIENCE_SECONDS:
        held = await held_leases(rig.db)
        busy = [c for c in rig.fleet.live("worker") if held.get(c.pid) and not c.stopped]
        rank = {
            c: (sum(lease.phase == "allocation" for lease in held[c.pid]), c is avoid) for c in busy
        }
        calm = [c for c in busy if rank[c][0] == 0]
        if calm or (busy and time.monotonic() > settled):
            best = min(rank[c] for c in calm or busy)
            return rig.rng.choice([c for c in busy if rank[c] == best])
        await anyio.sleep(0.1)
    return None


async def pause_busy_worker(rig: Rig, finished: anyio.Event) -> None:
    """SIGSTOP a worker that holds leases until another worker took one over, then SIGCONT.

    The pause lasts longer than the lease. When none of the paused worker's runs was taken
    over (it was stopped inside a transaction that the others now wait for), it is resumed,
    given a moment to finish that transaction, and another busy worker is paused instead.
    """
    victim: Child | None = None
    for _ in range(5):
        victim = await pick_busy_worker(rig, victim, finished)
        if victim is None:
            rig.chaos.note("no busy worker to pause")
            return
        victim.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        held = {lease.run_id: lease for lease in (await held_leases(rig.db)).get(victim.pid, [])}
        rig.chaos.pauses += 1
        rig.chaos.paused_pids.append(victim.pid)
        rig.chaos.paused_held += len(held)
        phases = Counter(lease.phase for lease in held.values())
        rig.chaos.note(
            f"SIGSTOP {victim.name} (pid {victim.pid}) holding runs {sorted(held)} {dict(phases)}"
        )
        taken: set[int] = set()
        while time.monotonic() - stopped_at < PAUSE_MAX_SECONDS:
            await anyio.sleep(0.25)
            if held:
                tokens = await lease_tokens(rig.db, list(held))
                taken = {run for run, lease in held.items() if tokens[run] > lease.token}
            if taken and time.monotonic() - stopped_at >= PAUSE_MIN_SECONDS:
                break
        waiting = await lock_waiters(rig.db)
        victim.signal(signal.SIGCONT)
        rig.chaos.takeovers += len(taken)
        rig.chaos.note(
            f"SIGCONT {victim.name} after {time.monotonic() - stopped_at:.1f}s; runs taken "
            f"over meanwhile: {sorted(taken)}"
            + (f"; {waiting} sessions waited for locks" if waiting else "")
        )
        if taken:
            return
        await anyio.sleep(LEASE_SECONDS)


async def monkey(rig: Rig, finished: anyio.Event) -> None:
    """Kill workers at random moments; pause a busy one once, early on."""
    actions = ["kill"] * KILLS
    actions.insert(rig.rng.randint(1, 2), "pause")
    for action in actions:
        with anyio.move_on_after(rig.rng.uniform(1.5, 5.0)):
            await finished.wait()
        if finished.is_set():
            return
        if action == "kill":
            await kill_one(rig)
        else:
            await pause_busy_worker(rig, finished)


# -- orders ----------------------------------------------------------------------------------


async def place_and_pay(inst: bootstrap.Installation, n: int) -> None:
    """Create order `n` and ingest its signed Stripe payment, as the API would."""
    created = await service.create_order(
        inst.db,
        customer_email=f"customer{n:03d}@example.com",
        customer_name=f"Customer {n}",
        product_slug=PRODUCT_SLUG,
        hostname=hostname(n),
    )
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"]
    )
    now = int(time.time())
    headers = stripe_sim.signed_headers(body, inst.stripe_secrets[0], now)
    endpoint = StripeEndpoint(inst.db, inst.store, inst.stripe_secrets)
    result = await endpoint.ingest(body, headers, remote="127.0.0.1", now=now)
    assert result.outcome == "processed", result


async def feed(inst: bootstrap.Installation, rng: random.Random) -> None:
    """All orders, in small bursts, so that new work keeps arriving during the chaos."""
    for n in range(1, ORDERS + 1):
        await place_and_pay(inst, n)
        if n % 10 == 0:
            await anyio.sleep(rng.uniform(0.0, 0.4))


async def order_states(db: Database) -> Counter[str]:
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(schema.orders.c.state, sa.func.count()).group_by(schema.orders.c.state)
            )
        ).all()
    return Counter({row[0]: row[1] for row in rows})


async def failed_runs(db: Database) -> int:
    runs = schema.runs
    async with db.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(runs).where(runs.c.state == "failed")
                )
            ).scalar_one()
        )


async def diagnose(rig: Rig, why: str) -> str:
    """Stuck runs (state, phase, wait reason, last error), order states and log tails."""
    runs = schema.runs
    async with rig.db.connect() as conn:
        stuck = (
            await conn.execute(
                sa.select(runs)
                .where(runs.c.state != "completed")
                .order_by(runs.c.state != "failed", runs.c.attempt.desc(), runs.c.id)
            )
        ).all()
    lines = [why, f"orders by state: {dict(await order_states(rig.db))}", "stuck runs:"]
    for run in stuck[:40]:
        error = run.last_error or {}
        lines.append(
            f"  run {run.id} (order {run.order_id}): {run.state} at {run.phase} "
            f"attempt {run.attempt} wait_reason={run.wait_reason!r} owner={run.lease_owner} "
            f"last_error={error.get('code')}: {str(error.get('message'))[:200]}"
        )
    if len(stuck) > 40:
        lines.append(f"  ... and {len(stuck) - 40} more")
    lines.append("chaos timeline:")
    lines.extend(f"  {entry}" for entry in rig.chaos.timeline)
    for child in rig.fleet.children:
        if child.role == "simulator" or child.alive:
            lines.append(f"log of {child.name} (pid {child.pid}):\n{child.tail(15)}")
    return "\n".join(lines)


async def wait_until_active(rig: Rig) -> tuple[float, str]:
    """Seconds until every order is active, and a diagnostic when that did not happen."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        states = await order_states(rig.db)
        if states.get("active", 0) == ORDERS:
            return elapsed, ""
        if await failed_runs(rig.db):
            return elapsed, await diagnose(rig, "a run failed")
        if elapsed > SETTLE_SECONDS:
            return elapsed, await diagnose(rig, f"orders still not active after {elapsed:.0f}s")
        await anyio.sleep(0.5)


# -- the invariants --------------------------------------------------------------------------


async def rows(db: Database, query: Any) -> list[Any]:
    async with db.connect() as conn:
        return list((await conn.execute(query)).all())


def check_simulator(servers: list[Mapping[str, Any]], hostnames: set[str]) -> None:
    names = Counter(str(s["name"]) for s in servers)
    duplicated = {name: count for name, count in names.items() if count > 1}
    missing = sorted(hostnames - names.keys())
    unknown = sorted(names.keys() - hostnames)
    assert not duplicated, f"the simulator holds duplicate servers: {duplicated}"
    assert not missing, f"orders without a server at the simulator: {missing}"
    assert not unknown, f"servers that belong to no order: {unknown}"


async def check_phase_completions(db: Database) -> None:
    log = schema.activity_log
    run_ids = [r.id for r in await rows(db, sa.select(schema.runs.c.id))]
    counted = await rows(
        db,
        sa.select(log.c.run_id, log.c.phase, sa.func.count())
        .where(log.c.event == "phase_completed")
        .group_by(log.c.run_id, log.c.phase),
    )
    per_run: dict[int, dict[str, int]] = defaultdict(dict)
    for run_id, phase, count in counted:
        per_run[run_id][phase] = count
    expected = {phase.value: 1 for phase in PHASES}
    wrong = {run: per_run.get(run, {}) for run in run_ids if per_run.get(run) != expected}
    assert not wrong, f"runs without exactly one phase_completed per phase: {wrong}"


async def check_fencing(db: Database) -> int:
    """Per run, fenced rows carry non-decreasing lease tokens, each token one worker's."""
    log = schema.activity_log
    fenced = await rows(
        db,
        sa.select(log.c.id, log.c.run_id, log.c.lease_token, log.c.worker, log.c.event)
        .where(log.c.lease_token.is_not(None))
        .order_by(log.c.run_id, log.c.id),
    )
    regressions = []
    owners: dict[tuple[int, int], set[str]] = defaultdict(set)
    last: dict[int, Any] = {}
    for row in fenced:
        previous = last.get(row.run_id)
        if previous is not None and row.lease_token < previous.lease_token:
            regressions.append(
                f"run {row.run_id}: row {row.id} ({row.event} by {row.worker}, token "
                f"{row.lease_token}) after row {previous.id} ({previous.event} by "
                f"{previous.worker}, token {previous.lease_token})"
            )
        last[row.run_id] = row
        owners[(row.run_id, row.lease_token)].add(row.worker)
    shared = {key: sorted(names) for key, names in owners.items() if len(names) > 1}
    assert not regressions, "writes of fenced-out workers landed:\n" + "\n".join(regressions)
    assert not shared, f"one lease token written by several workers: {shared}"
    return len(fenced)


async def check_mail(db: Database, order_ids: set[int], smtp: CapturingSmtpServer) -> int:
    """One welcome outbox row per order, sent; returns how many SMTP deliveries were repeats."""
    outbox = schema.outgoing_mail
    mails = await rows(db, sa.select(outbox.c.order_id, outbox.c.template, outbox.c.status))
    per_order = Counter(m.order_id for m in mails)
    assert set(per_order) == order_ids, (
        f"orders without a mail: {sorted(order_ids - set(per_order))}"
    )
    assert all(count == 1 for count in per_order.values()), (
        f"orders with several mails: {[o for o, c in per_order.items() if c > 1]}"
    )
    unsent = [m.order_id for m in mails if m.status != "sent" or m.template != "welcome"]
    assert not unsent, f"welcome mails not sent: {unsent}"
    received = Counter(str(m["Message-ID"]) for m in smtp.messages)
    expected = {f"<order-{o}-welcome@fluxbilling>" for o in order_ids}
    assert expected <= received.keys(), f"never received: {sorted(expected - received.keys())}"
    return sum(received.values()) - len(received)


async def check_addresses(db: Database) -> None:
    """Every order has its own address in the subnet, never the gateway or a DNS server."""
    (subnet,) = await rows(db, sa.select(schema.subnets))
    network = ipaddress.ip_network(subnet.cidr)
    infrastructure = {ipaddress.ip_address(subnet.gateway)} | {
        ipaddress.ip_address(a) for a in subnet.dns_servers
    }
    assert all(a in network for a in infrastructure), (subnet.gateway, subnet.dns_servers)
    addresses = [
        ipaddress.ip_address(r.address)
        for r in await rows(db, sa.select(schema.ip_addresses.c.address))
    ]
    assert len(addresses) == ORDERS == len(set(addresses))
    assert all(a in network for a in addresses)
    clashes = sorted(str(a) for a in set(addresses) & infrastructure)
    assert not clashes, f"orders got infrastructure addresses: {clashes}"


# -- the test --------------------------------------------------------------------------------


def worker_environment(settings: Settings, secret_key: str) -> dict[str, str]:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLUXBILLING_", "COV_CORE_"))
    }
    return {
        **inherited,
        "FLUXBILLING_DATABASE_URL": settings.database_url,
        "FLUXBILLING_SECRET_KEY": secret_key,
        "FLUXBILLING_STATE_DIR": str(settings.state_dir),
        "FLUXBILLING_SMTP_PORT": str(settings.smtp_port),
        "FLUXBILLING_LEASE_SECONDS": str(LEASE_SECONDS),
        "FLUXBILLING_POLL_INTERVAL": "0.2",
        "FLUXBILLING_WORKER_CONCURRENCY": "8",
        "FLUXBILLING_HTTP_TIMEOUT": str(HTTP_TIMEOUT),
        "FLUXBILLING_API_TOKEN": "chaos-api-token",
        "FLUXBILLING_STRIPE_WEBHOOK_SECRET": "whsec_chaos",
    }


async def start_simulator(fleet: Fleet) -> str:
    """The SolusVM 2 simulator as its own process; returns its base URL."""
    port = free_port()
    sim = fleet.python(
        "simulator",
        "fluxbilling.simulators.solusvm2",
        *("--port", str(port), "--token", SIM_TOKEN, "--seed", str(SEED)),
        *("--fail-rate", str(SIM_FAIL_RATE), "--timeout-delay", str(SIM_TIMEOUT_DELAY)),
        *("--polls-until-started", str(SIM_POLLS_UNTIL_STARTED)),
        env={k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")},
    )
    url = f"http://127.0.0.1:{port}"
    await wait_http(f"{url}/_sim/state", sim)
    return url


async def seed(inst: bootstrap.Installation, sim_url: str, image_dir: Path) -> None:
    """Plugins and a catalogue with room for every order: 3 hosts of 256 GB, a /16."""
    await inst.load_builtin_plugins()
    async with inst.db.begin() as conn:
        await seed_catalogue(
            conn,
            inst.vault,
            solusvm_url=f"{sim_url}/api/v1",
            solusvm_token=SIM_TOKEN,
            image_dir=image_dir,
            hosts=3,
            host_ram_mb=256 * 1024,
            cidr=CIDR,
            poll_interval=0.2,
            allowed_networks=["127.0.0.1/32"],  # the simulator runs on loopback
        )


async def run_chaos(rig: Rig, inst: bootstrap.Installation) -> float:
    """Workers up, orders in, monkey loose; returns how long the last orders took to settle."""
    for _ in range(WORKERS):
        rig.start_worker()
    finished = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(monkey, rig, finished)
        await feed(inst, rig.rng)
        settle, problem = await wait_until_active(rig)
        finished.set()
    if problem:
        pytest.fail(problem, pytrace=False)
    deaths = [
        c.name for c in rig.fleet.children if c.role == "worker" and not c.alive and not c.exit_note
    ]
    assert not deaths, f"workers died on their own: {deaths}\n" + await diagnose(rig, "")
    hung = rig.fleet.terminate("worker")  # in-flight phases finish: nothing writes after this
    assert not hung, f"workers ignored SIGTERM: {[c.name for c in hung]}"
    return settle


async def summary(rig: Rig, backend: str, settle: float, facts: Mapping[str, int]) -> str:
    chaos = rig.chaos
    log = schema.activity_log
    events: Counter[str] = Counter()
    for event, count in await rows(
        rig.db,
        sa.select(log.c.event, sa.func.count())
        .where(log.c.event.in_(("phase_retry", "phase_parked")))
        .group_by(log.c.event),
    ):
        events[event] = count
    claims = (await rows(rig.db, sa.select(sa.func.sum(schema.runs.c.lease_token))))[0][0]
    workers = [c for c in rig.fleet.children if c.role == "worker"]
    dropped = sum(c.log_count("lease lost") for c in workers)
    paused_dropped = sum(c.log_count("lease lost") for c in workers if c.pid in chaos.paused_pids)
    abandoned = sum(c.log_count("database unavailable") for c in workers)
    lines = [
        f"chaos[{backend}]: {ORDERS} orders active, the last {settle:.1f}s after the last "
        f"payment ({time.monotonic() - chaos.started:.1f}s of chaos); {len(workers)} worker "
        f"processes; {chaos.kills} SIGKILLs orphaning {chaos.orphaned_leases} leases; "
        f"{chaos.pauses} SIGSTOP/SIGCONT of workers holding {chaos.paused_held} leases, "
        f"{chaos.takeovers} taken over meanwhile, {paused_dropped} results then dropped by "
        f"the paused worker(s)",
        f"  {events['phase_retry']} phase_retry rows, {events['phase_parked']} parked; {claims} "
        f"claims; {dropped} results dropped on a lost lease; {abandoned} attempts abandoned on "
        f"database errors; {facts['fenced']} fenced activity rows checked; "
        f"{facts['requests']} simulator requests; {facts['repeats']} repeated SMTP deliveries",
        *(f"  {entry}" for entry in chaos.timeline),
    ]
    return "\n".join(lines)


async def test_orders_survive_killed_and_paused_workers(
    backend: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = Fleet(tmp_path / "logs")
    smtp = CapturingSmtpServer()
    inst: bootstrap.Installation | None = None
    try:
        with anyio.fail_after(TEST_SECONDS):
            smtp.start()
            secret_key = generate_key()
            settings = Settings(
                database_url=database_url,
                state_dir=tmp_path / "state",
                secret_key=secret_key,
                api_token="chaos-api-token",
                stripe_webhook_secret="whsec_chaos",
                smtp_port=smtp.port,
                lease_seconds=LEASE_SECONDS,
                http_timeout=HTTP_TIMEOUT,
            )
            inst = bootstrap.build(settings)
            sim_url = await start_simulator(fleet)
            await seed(inst, sim_url, tmp_path / "images")
            rig = Rig(inst.db, fleet, worker_environment(settings, secret_key), random.Random(SEED))
            settle = await run_chaos(rig, inst)

            async with httpx.AsyncClient(timeout=10) as client:
                sim_state = (await client.get(f"{sim_url}/_sim/state")).json()
            orders = await rows(inst.db, sa.select(schema.orders.c.id, schema.orders.c.hostname))
            check_simulator(sim_state["servers"], {o.hostname for o in orders})
            await check_phase_completions(inst.db)
            fenced = await check_fencing(inst.db)
            repeats = await check_mail(inst.db, {o.id for o in orders}, smtp)
            await check_addresses(inst.db)
            timeline = "\n".join(rig.chaos.timeline)
            assert rig.chaos.kills >= 3, timeline
            assert rig.chaos.takeovers >= 1, f"the paused worker never lost a lease:\n{timeline}"

            facts = {"fenced": fenced, "requests": sim_state["requests"], "repeats": repeats}
            report = await summary(rig, backend, settle, facts)
            with capsys.disabled():
                print(f"\n{report}")  # noqa: T201 - the summary the issue asks for
    finally:
        fleet.kill_all()
        smtp.stop()
        if inst is not None:
            with anyio.move_on_after(30, shield=True):  # never let cleanup hang the suite
                await inst.close()
