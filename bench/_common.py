"""What the benchmarks share: bench databases, the machine's description, CPU readings, quantiles.

The scripts run as `python bench/<name>.py`, so this directory is first on `sys.path` and
they import this module as `_common` (mypy, given the `bench` directory, resolves it the
same way).
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import sqlalchemy as sa

from fluxbilling.db import Database
from fluxbilling.db.migrate import upgrade

__all__ = [
    "PG_ADMIN_URL",
    "RESULTS",
    "BenchDatabase",
    "cpu_ticks",
    "machine",
    "percentile",
    "pg_backend_cpu",
    "pg_version",
    "proc_cpu",
    "say",
]

RESULTS = Path(__file__).resolve().parent / ".results"
PG_ADMIN_URL = os.environ.get(
    "FLUXBILLING_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """A benchmark's own database: a SQLite file in `RESULTS`, or a database on the PG server.

    Args:
        pg_name: the PostgreSQL database (dropped and re-created) on `PG_ADMIN_URL`'s server.
        sqlite_name: the SQLite file's name in `RESULTS`.
    """

    pg_name: str
    sqlite_name: str

    @property
    def sqlite_file(self) -> Path:
        """The SQLite file."""
        return RESULTS / self.sqlite_name

    def pg_url(self) -> str:
        """The URL of the PostgreSQL bench database (on the admin URL's server)."""
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.pg_name

    def _remove_sqlite(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.sqlite_file}{suffix}").unlink(missing_ok=True)

    async def fresh(self, backend: str) -> str:
        """Create (or re-create) and migrate the database; returns its URL."""
        if backend == "sqlite":
            RESULTS.mkdir(exist_ok=True)
            self._remove_sqlite()
            url = f"sqlite:///{self.sqlite_file}"
        else:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            await _pg_admin(f'CREATE DATABASE "{self.pg_name}"')
            url = self.pg_url()
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        return url

    async def drop(self, backend: str) -> None:
        """Remove the database."""
        if backend == "sqlite":
            self._remove_sqlite()
        else:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def percentile(samples: list[float], q: float) -> float:
    """The `q` quantile (0..1) by nearest rank."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return ordered[index]


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # without guest time, already counted in user
    return total - idle, total


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local process so far (None: gone or not local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pg_backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the database at `url` (local server).

    The connection that asks is left out. Backends that exit between two readings are missed,
    so a pool that churns makes the difference too low; resolution is one clock tick (10 ms).
    """
    conn = await asyncpg.connect(url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    found = {int(r["pid"]): proc_cpu(int(r["pid"])) for r in pids}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def machine() -> dict[str, str]:
    """What the numbers were measured on (the scripts add the versions of what else they use)."""
    cpu = ram = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
            break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sa.__version__,
        "asyncpg": asyncpg.__version__,
        "platform": platform.platform(),
    }


async def pg_version() -> str:
    """The PostgreSQL server's version."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def say(message: str) -> None:
    """Progress, on stderr (the results go to stdout)."""
    print(message, file=sys.stderr, flush=True)
