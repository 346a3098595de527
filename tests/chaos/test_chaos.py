"""Chaos: paid orders through worker processes that are SIGKILLed, SIGSTOPped, and whose
PostgreSQL server is restarted under them.

On each backend (a SQLite file shared by the processes; a fresh database on a *private*
PostgreSQL cluster started for the test, see `pgcluster.py`):

- the SolusVM 2 simulator runs as its own process and injects ~10 % faults (500, 503 and
  answers slower than the workers' HTTP timeout, processed anyway);
- `fluxbilling worker` processes run the pipeline with a short lease;
- the test process places the orders and pays them through the real code path
  (`create_order`, then a Stripe-signed `checkout.session.completed` ingested by
  `StripeEndpoint`), retrying while the database is away as a client would, while the
  monkey (`monkey.py`) SIGKILLs workers at random moments (starting a replacement each
  time), SIGSTOPs a worker that holds leases for longer than its lease, then SIGCONTs it,
  and on PostgreSQL restarts the server once, half-way through the payments (by default
  SIGKILL of the postmaster: every connection drops, crash recovery on start).

It passes only if every order ends `active` in bounded time, and nothing was duplicated,
lost or written by a fenced-out worker (`invariants.py`: one server per order at the
simulator, one `phase_completed` per run and phase, per-run lease tokens that never go
backwards, one welcome mail per order, sent, one address per order, never the gateway's),
no worker died on its own or logged an unexpected error or an unretrieved task exception,
the paused worker really lost a lease and the restart really happened.

The default is the CI variant (210 orders, 3 workers, 6 kills; part of `make test`);
`FLUXBILLING_CHAOS_*` scales it (`plan.py`; `make chaos ORDERS=1000`, docs/reliability.md).
Worker and simulator logs stay under the test's tmp_path/logs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.billing.webhooks import StripeEndpoint
from fluxbilling.config import Settings
from fluxbilling.db import Database, schema
from fluxbilling.orders import service
from fluxbilling.seed import PRODUCT_SLUG, seed_catalogue
from fluxbilling.vault import generate_key
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators.mailbox import CapturingSmtpServer
from tests.chaos.harness import Fleet, free_port, wait_http
from tests.chaos.invariants import Audit, audit
from tests.chaos.monkey import Rig, events, kill_loop, patiently
from tests.chaos.pgcluster import PrivateCluster
from tests.chaos.plan import ChaosPlan

pytestmark = [pytest.mark.chaos, pytest.mark.anyio]

SEED = 20_241_126
LEASE_SECONDS = 3.0
HTTP_TIMEOUT = 1.0
SIM_TOKEN = "chaos-solusvm2-token"
SIM_FAIL_RATE = 0.1
SIM_TIMEOUT_DELAY = 1.5  # a bit above HTTP_TIMEOUT: the worker gives up, the simulator still acts
SIM_POLLS_UNTIL_STARTED = 2
CIDR = "10.20.0.0/16"
# Worker log lines that mean a bug, whatever else happened.
BUG_SIGNS = ("Task exception was never retrieved", "unexpected error", "run task crashed")


def hostname(n: int) -> str:
    return f"chaos-{n:04d}.example.com"


# -- orders ----------------------------------------------------------------------------------


async def _invoice(inst: bootstrap.Installation, n: int, *, retried: bool) -> dict[str, Any]:
    """Order `n`'s invoice: a new order, or (after a failed attempt) the one it committed."""
    try:
        created = await service.create_order(
            inst.db,
            customer_email=f"customer{n:04d}@example.com",
            customer_name=f"Customer {n}",
            product_slug=PRODUCT_SLUG,
            hostname=hostname(n),
        )
    except errors.Conflict:
        if not retried:
            raise
        # The connection dropped after the commit: the order exists, the answer was lost.
        async with inst.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(schema.invoices)
                    .join(schema.orders, schema.orders.c.id == schema.invoices.c.order_id)
                    .where(schema.orders.c.hostname == hostname(n))
                )
            ).one()
        return dict(row._mapping)
    return dataclasses.asdict(created.invoice)


async def place_and_pay(rig: Rig, inst: bootstrap.Installation, n: int) -> None:
    """Create order `n` and ingest its signed Stripe payment, as the API would.

    While the database is away the attempt is repeated, with the same event (Stripe
    retries a delivery that was not answered 2xx): it is then processed once, or found a
    duplicate of the attempt that committed before the connection dropped.
    """
    body: bytes | None = None
    endpoint = StripeEndpoint(inst.db, inst.store, inst.stripe_secrets)
    deadline = time.monotonic() + 120.0
    retried = False
    while True:
        try:
            if body is None:
                invoice = await _invoice(inst, n, retried=retried)
                body = stripe_sim.checkout_completed(
                    invoice["id"], invoice["amount_minor"], invoice["currency"]
                )
            now = int(time.time())
            headers = stripe_sim.signed_headers(body, inst.stripe_secrets[0], now)
            result = await endpoint.ingest(body, headers, remote="127.0.0.1", now=now)
        except (OSError, sa.exc.DBAPIError):
            if time.monotonic() > deadline:
                raise
            retried = True
            rig.chaos.db_retries += 1
            await anyio.sleep(0.25)
            continue
        accepted = ("processed", "duplicate") if retried else ("processed",)
        assert result.outcome in accepted, result
        rig.chaos.paid += 1
        return


async def feed(rig: Rig, inst: bootstrap.Installation) -> None:
    """All orders, in small bursts, so that new work keeps arriving during the chaos."""
    for n in range(1, rig.plan.orders + 1):
        await place_and_pay(rig, inst, n)
        if n % 10 == 0:
            await anyio.sleep(rig.rng.uniform(0.0, 0.4))


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
        query = sa.select(sa.func.count()).select_from(runs).where(runs.c.state == "failed")
        return int((await conn.execute(query)).scalar_one())


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
    lines.extend(f"  {entry}" for entry in rig.chaos.timeline[-60:])
    for child in rig.fleet.children:
        if child.role == "simulator" or child.alive:
            lines.append(f"log of {child.name} (pid {child.pid}):\n{child.tail(15)}")
    return "\n".join(lines)


async def wait_until_active(rig: Rig) -> tuple[float, str]:
    """Seconds until every order is active, and a diagnostic when that did not happen."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        states = await patiently(rig, lambda: order_states(rig.db))
        if states.get("active", 0) == rig.plan.orders:
            return elapsed, ""
        if await patiently(rig, lambda: failed_runs(rig.db)):
            return elapsed, await diagnose(rig, "a run failed")
        if elapsed > rig.plan.settle_seconds:
            return elapsed, await diagnose(rig, f"orders still not active after {elapsed:.0f}s")
        await anyio.sleep(0.5)


# -- the rig ---------------------------------------------------------------------------------


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
        "fluxbilling_simulators.solusvm2",
        *("--port", str(port), "--token", SIM_TOKEN, "--seed", str(SEED)),
        *("--fail-rate", str(SIM_FAIL_RATE), "--timeout-delay", str(SIM_TIMEOUT_DELAY)),
        *("--polls-until-started", str(SIM_POLLS_UNTIL_STARTED)),
        env={k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")},
    )
    url = f"http://127.0.0.1:{port}"
    await wait_http(f"{url}/_sim/state", sim)
    return url


async def seed(inst: bootstrap.Installation, plan: ChaosPlan, sim_url: str, images: Path) -> None:
    """Plugins and a catalogue with room for every order: hosts of 256 GB, a /16."""
    await inst.load_builtin_plugins()
    async with inst.db.begin() as conn:
        await seed_catalogue(
            conn,
            inst.vault,
            solusvm_url=f"{sim_url}/api/v1",
            solusvm_token=SIM_TOKEN,
            image_dir=images,
            hosts=plan.hosts,
            host_ram_mb=256 * 1024,
            cidr=CIDR,
            poll_interval=0.2,
            allowed_networks=["127.0.0.1/32"],  # the simulator runs on loopback
        )


def worker_bugs(rig: Rig) -> dict[str, int]:
    """`{worker: lines}` of workers that logged a sign of a bug (`BUG_SIGNS`)."""
    found = {}
    for child in rig.fleet.children:
        if child.role == "worker":
            count = sum(child.log_count(sign) for sign in BUG_SIGNS)
            if count:
                found[child.name] = count
    return found


async def run_chaos(rig: Rig, inst: bootstrap.Installation) -> float:
    """Workers up, orders in, monkey loose; returns how long the last orders took to settle."""
    for _ in range(rig.plan.workers):
        rig.start_worker()
    finished = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(kill_loop, rig, finished)
        tg.start_soon(events, rig, finished)
        await feed(rig, inst)
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


# -- the result ------------------------------------------------------------------------------


def result(rig: Rig, backend: str, elapsed: float, found: Audit | None) -> dict[str, Any]:
    """The run as one JSON document (what `make chaos` writes and docs/reliability.md shows)."""
    chaos, plan = rig.chaos, rig.plan
    return {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "orders": plan.orders,
        "active": None if found is None else plan.orders - found.lost["orders not active"],
        "workers": plan.workers,
        "worker_processes": sum(c.role == "worker" for c in rig.fleet.children),
        "workers_forked": plan.fork_workers,
        "kill_every_seconds": list(plan.kill_every),
        "kills": chaos.kills,
        "kills_skipped_no_worker_up": chaos.kills_skipped,
        "orphaned_leases": chaos.orphaned_leases,
        "stops": chaos.pauses,
        "stopped_leases_taken_over": chaos.takeovers,
        "pg_restarts": chaos.pg_restarts,
        "pg_restart_mode": plan.pg_restart if backend == "postgresql" else None,
        "pg_outage_seconds": round(chaos.pg_outage_seconds, 2),
        "client_db_retries": chaos.db_retries,
        "duplicates": None if found is None else found.duplicates.total(),
        "lost": None if found is None else found.lost.total(),
        "duplicates_by_kind": None if found is None else dict(found.duplicates),
        "lost_by_kind": None if found is None else dict(found.lost),
        "fenced_writes_landed": None if found is None else len(found.fenced_writes_landed),
        "repeated_smtp_deliveries": None if found is None else found.repeated_smtp_deliveries,
        "worker_bug_lines": sum(worker_bugs(rig).values()),
        "elapsed_seconds": round(elapsed, 1),
        "passed": found is not None and found.passed,
    }


def summary_line(doc: dict[str, Any]) -> str:
    return (
        f"chaos[{doc['backend']}]: {doc['orders']} orders ({doc['active']} active), "
        f"{doc['workers']} workers ({doc['worker_processes']} processes), {doc['kills']} kills, "
        f"{doc['stops']} stops, {doc['pg_restarts']} pg restarts, duplicates "
        f"{doc['duplicates']}, lost {doc['lost']}, {doc['elapsed_seconds']}s"
        + ("" if doc["passed"] else " FAILED")
    )


def details(rig: Rig, settle: float, found: Audit, sim_requests: int) -> str:
    chaos = rig.chaos
    workers = [c for c in rig.fleet.children if c.role == "worker"]
    dropped = sum(c.log_count("lease lost") for c in workers)
    paused_dropped = sum(c.log_count("lease lost") for c in workers if c.pid in chaos.paused_pids)
    abandoned = sum(c.log_count("database unavailable") for c in workers)
    lines = [
        f"  the last order active {settle:.1f}s after the last payment; {chaos.orphaned_leases} "
        f"leases orphaned by SIGKILLs ({chaos.kills_skipped} ticks without a started worker); "
        f"{chaos.paused_held} leases held by paused workers, {chaos.takeovers} taken over, "
        f"{paused_dropped} results then dropped by them",
        f"  PostgreSQL down {chaos.pg_outage_seconds:.1f}s; {chaos.db_retries} client retries; "
        f"{dropped} results dropped on a lost lease; {abandoned} attempts abandoned on database "
        f"errors; {found.fenced_rows} fenced activity rows checked; {sim_requests} simulator "
        f"requests; {found.repeated_smtp_deliveries} repeated SMTP deliveries",
    ]
    if rig.plan.kills is not None and rig.plan.kills <= 20:
        lines += [f"  {entry}" for entry in chaos.timeline]
    return "\n".join(lines)


def write_result(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


# -- the test --------------------------------------------------------------------------------


async def test_orders_survive_killed_and_paused_workers_and_a_database_restart(
    backend: str,
    database_url: str,
    pg_cluster: PrivateCluster | None,
    plan: ChaosPlan,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fleet = Fleet(tmp_path / "logs")
    smtp = CapturingSmtpServer()
    inst: bootstrap.Installation | None = None
    rig: Rig | None = None
    found: Audit | None = None
    doc: dict[str, Any] | None = None
    try:
        with anyio.fail_after(plan.test_seconds):
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
            await seed(inst, plan, sim_url, tmp_path / "images")
            rig = Rig(
                inst.db,
                fleet,
                worker_environment(settings, secret_key),
                random.Random(SEED),
                plan,
                LEASE_SECONDS,
                cluster=pg_cluster,
            )
            settle = await run_chaos(rig, inst)

            async with httpx.AsyncClient(timeout=10) as client:
                sim_state = (await client.get(f"{sim_url}/_sim/state")).json()
            elapsed = time.monotonic() - rig.chaos.started
            found = await audit(inst.db, plan.orders, sim_state["servers"], smtp)
            doc = result(rig, backend, elapsed, found)
            report = details(rig, settle, found, sim_state["requests"])
            with capsys.disabled():
                print(f"\n{summary_line(doc)}\n{report}")  # noqa: T201 - the run's summary

            timeline = "\n".join(rig.chaos.timeline)
            assert found.passed, found.report()
            assert not worker_bugs(rig), f"workers logged bugs: {worker_bugs(rig)}"
            assert rig.chaos.kills >= min(3, plan.kills or 3), timeline
            assert rig.chaos.takeovers >= 1, f"the paused worker never lost a lease:\n{timeline}"
            if pg_cluster is not None and plan.pg_restart is not None:
                assert rig.chaos.pg_restarts == 1, f"PostgreSQL was not restarted:\n{timeline}"
    finally:
        if plan.result_path is not None and rig is not None:
            elapsed = time.monotonic() - rig.chaos.started
            write_result(plan.result_path, doc or result(rig, backend, elapsed, found))
        fleet.kill_all()
        smtp.stop()
        if inst is not None:
            with anyio.move_on_after(30, shield=True):  # never let cleanup hang the suite
                await inst.close()
