"""The chaos monkey: SIGKILL workers, SIGSTOP one past its lease, restart PostgreSQL.

Two tasks run beside the order feed until every order is active:

- `kill_loop`: every `plan.kill_every` seconds, SIGKILL a random worker that has started
  (logged that it runs; a process still importing holds nothing worth killing) and start a
  replacement — `plan.kills` times, or until the end;
- `events`: a few seconds in, SIGSTOP a worker holding leases for longer than its lease
  (then SIGCONT); once half the orders are paid (and the pause is over), restart the
  private PostgreSQL cluster (`plan.pg_restart`, down for `plan.pg_down_seconds`).

The test process's own queries (the monkey's, the feed's, the wait for "all active") go
through `patiently`, which retries them while the database is away, as any client would.
"""

from __future__ import annotations

import contextlib
import functools
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import sqlalchemy as sa

from fluxbilling.db import Database, schema
from tests.chaos.harness import Child, Fleet
from tests.chaos.pgcluster import PrivateCluster
from tests.chaos.plan import ChaosPlan

__all__ = ["ChaosLog", "Rig", "events", "kill_loop", "patiently"]

T = TypeVar("T")

# A paused worker may hold the SQLite write lock: everybody else waits, so the pause stays
# well below the busy timeout (30 s); when nobody could take a lease over, pause another.
PAUSE_MIN_LEASES = 2.0  # the pause lasts at least this many leases (+ 0.5 s) ...
PAUSE_MAX_LEASES = 4.0  # ... and at most this many
PICK_PATIENCE_SECONDS = 20.0
# `fluxbilling.server` logs "worker <id> started" once the worker runs.
WORKER_STARTED = ("fluxbilling.server worker ", " started")


@dataclass
class ChaosLog:
    """What the monkey did, for the assertions and the summary."""

    kills: int = 0
    kills_skipped: int = 0
    orphaned_leases: int = 0
    pauses: int = 0
    paused_pids: list[int] = field(default_factory=list)
    paused_held: int = 0
    takeovers: int = 0
    pg_restarts: int = 0
    pg_outage_seconds: float = 0.0
    db_retries: int = 0
    paid: int = 0
    timeline: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, message: str) -> None:
        """Add a timestamped line to the timeline."""
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {message}")


@dataclass
class Rig:
    """Everything one chaos run uses."""

    db: Database
    fleet: Fleet
    worker_env: dict[str, str]
    rng: random.Random
    plan: ChaosPlan
    lease_seconds: float
    cluster: PrivateCluster | None = None
    chaos: ChaosLog = field(default_factory=ChaosLog)
    _ready: set[int] = field(default_factory=set, init=False)  # pids that logged their start

    def start_worker(self) -> Child:
        """Start one `fluxbilling worker` process (forked, when the plan says so)."""
        if self.plan.fork_workers:
            return self.fleet.fork_cli("worker", "worker", env=self.worker_env)
        return self.fleet.python("worker", "fluxbilling.cli", "worker", env=self.worker_env)

    def started_workers(self) -> list[Child]:
        """Live, running (not stopped) workers that logged that they started."""
        found = []
        for child in self.fleet.live("worker"):
            if child.pid not in self._ready and child.log_has(*WORKER_STARTED):
                self._ready.add(child.pid)
            if child.pid in self._ready and not child.stopped:
                found.append(child)
        return found


async def patiently(rig: Rig, what: Callable[[], Awaitable[T]], *, limit: float = 120.0) -> T:
    """`await what()`, retried while the database is unreachable (a restart), up to `limit` s."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return await what()
        except (OSError, sa.exc.DBAPIError):
            if time.monotonic() > deadline:
                raise
            rig.chaos.db_retries += 1
            await anyio.sleep(0.25)


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
    """The current lease token of each run."""
    runs = schema.runs
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(runs.c.id, runs.c.lease_token).where(runs.c.id.in_(run_ids))
            )
        ).all()
    return {row.id: row.lease_token for row in rows}


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


# -- SIGKILL ---------------------------------------------------------------------------------


async def kill_one(rig: Rig) -> None:
    """SIGKILL a random started worker and start its replacement (skip when none started)."""
    candidates = rig.started_workers()
    if not candidates:
        rig.chaos.kills_skipped += 1
        return
    victim = rig.rng.choice(candidates)
    held: list[Lease] | None = None
    with contextlib.suppress(OSError, sa.exc.DBAPIError):  # only for the timeline
        with anyio.fail_after(2.0):
            held = (await held_leases(rig.db)).get(victim.pid, [])
    victim.kill()
    rig.chaos.kills += 1
    rig.chaos.orphaned_leases += len(held or [])
    replacement = rig.start_worker()
    leases = "? leases (database away)" if held is None else f"{len(held)} leases"
    rig.chaos.note(
        f"SIGKILL {victim.name} (pid {victim.pid}, {leases} held); started {replacement.name}"
    )


async def kill_loop(rig: Rig, finished: anyio.Event) -> None:
    """SIGKILL a worker every `plan.kill_every` seconds, `plan.kills` times or until the end."""
    low, high = rig.plan.kill_every
    while rig.plan.kills is None or rig.chaos.kills < rig.plan.kills:
        with anyio.move_on_after(rig.rng.uniform(low, high)):
            await finished.wait()
        if finished.is_set():
            return
        await kill_one(rig)


# -- SIGSTOP ---------------------------------------------------------------------------------


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
        held = await patiently(rig, lambda: held_leases(rig.db))
        busy = [c for c in rig.started_workers() if held.get(c.pid)]
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
    pause_min = PAUSE_MIN_LEASES * rig.lease_seconds + 0.5
    pause_max = PAUSE_MAX_LEASES * rig.lease_seconds
    victim: Child | None = None
    for _ in range(5):
        victim = await pick_busy_worker(rig, victim, finished)
        if victim is None:
            rig.chaos.note("no busy worker to pause")
            return
        victim.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        leases = await patiently(rig, lambda: held_leases(rig.db))
        held = {lease.run_id: lease for lease in leases.get(victim.pid, [])}
        rig.chaos.pauses += 1
        rig.chaos.paused_pids.append(victim.pid)
        rig.chaos.paused_held += len(held)
        phases = Counter(lease.phase for lease in held.values())
        rig.chaos.note(
            f"SIGSTOP {victim.name} (pid {victim.pid}) holding runs {sorted(held)} {dict(phases)}"
        )
        taken: set[int] = set()
        while time.monotonic() - stopped_at < pause_max:
            await anyio.sleep(0.25)
            if held:
                tokens = await patiently(rig, functools.partial(lease_tokens, rig.db, list(held)))
                taken = {run for run, lease in held.items() if tokens[run] > lease.token}
            if taken and time.monotonic() - stopped_at >= pause_min:
                break
        waiting = await patiently(rig, lambda: lock_waiters(rig.db))
        victim.signal(signal.SIGCONT)
        rig.chaos.takeovers += len(taken)
        rig.chaos.note(
            f"SIGCONT {victim.name} after {time.monotonic() - stopped_at:.1f}s; runs taken "
            f"over meanwhile: {sorted(taken)}"
            + (f"; {waiting} sessions waited for locks" if waiting else "")
        )
        if taken:
            return
        await anyio.sleep(rig.lease_seconds)


# -- PostgreSQL restart ----------------------------------------------------------------------


async def restart_postgres(rig: Rig, cluster: PrivateCluster) -> None:
    """Take the private cluster down and back up (in a thread: the event loop keeps going)."""
    mode = rig.plan.pg_restart or "fast"
    rig.chaos.note(f"PostgreSQL restart ({mode}, down {rig.plan.pg_down_seconds:.1f}s) begins")
    outage = await anyio.to_thread.run_sync(
        lambda: cluster.restart(mode, down_seconds=rig.plan.pg_down_seconds)
    )
    rig.chaos.pg_restarts += 1
    rig.chaos.pg_outage_seconds += outage
    rig.chaos.note(f"PostgreSQL accepts connections again after {outage:.1f}s")


async def events(rig: Rig, finished: anyio.Event) -> None:
    """The pause(s) a few seconds in; then, once half the orders are paid, the restart."""
    with anyio.move_on_after(rig.rng.uniform(3.0, 8.0)):
        await finished.wait()
    for _ in range(rig.plan.pauses):
        if finished.is_set():
            return
        await pause_busy_worker(rig, finished)
    if rig.cluster is None or rig.plan.pg_restart is None:
        return
    while rig.chaos.paid < rig.plan.orders // 2 and not finished.is_set():
        await anyio.sleep(0.2)
    with anyio.move_on_after(rig.rng.uniform(0.5, 2.0)):
        await finished.wait()
    if not finished.is_set():
        await restart_postgres(rig, rig.cluster)
