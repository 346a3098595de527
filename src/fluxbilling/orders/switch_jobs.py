"""Switch-port jobs: enqueue them with the transaction that calls for them, read and list them.

A job is a run of kind `switch_port` (`orders.pipeline.SWITCH_PORTS`: its state, attempts,
last error and retry are the engine's) plus its `switch_port_jobs` row (port, VLAN,
operation, and what the switch read back). The network phase's commit enqueues the
provisioning job and terminate's commit the one that takes the VLAN off again, each inside
its own transaction, so a committed phase without its job cannot exist; the run's dedupe key
(`network.switchport.dedupe_key`: order, port, VLAN, operation) makes a repeated commit (an
operator re-running the network phase) enqueue nothing twice.

Where the VLAN comes from: the service's address pool (`subnets.vlan_id`); the port is its
host's (`hosts.switch_port`). A service without either gets no job (a row says why not only
when exactly one of them is set: a half-configured host or pool is worth a look).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import RunStore
from fluxbilling.jsontypes import JsonObject
from fluxbilling.network import switchport
from fluxbilling.network.switchport import SwitchJobSpec, SwitchOp
from fluxbilling.orders.pipeline import SWITCH_PORT_KIND, Phase, RunState

__all__ = ["SwitchJobRow", "SwitchJobs", "job_row", "job_rows"]

jobs = schema.switch_port_jobs
services = schema.services


@dataclass(frozen=True, slots=True)
class SwitchJobRow:
    """A switch-port job, as its phase and an operator see it: the job and where its run
    stands."""

    id: int
    run_id: int
    order_id: int
    service_id: int
    host_id: int
    port: str
    vlan: int
    operation: SwitchOp
    state: RunState
    attempt: int
    last_error: JsonObject | None
    result: JsonObject | None
    created_at: datetime
    updated_at: datetime


def job_row(row: Any) -> SwitchJobRow:
    """A row of `job_rows` as a `SwitchJobRow`."""
    values = dict(row._mapping)
    values["operation"] = SwitchOp(values["operation"])
    values["state"] = RunState(values["state"])
    return SwitchJobRow(**values)


@dataclass(frozen=True, slots=True)
class _Target:
    service_id: int
    host_id: int | None
    port: str | None
    vlan: int | None
    service_type: str


class SwitchJobs:
    """Switch-port jobs in our database.

    Args:
        db: the database.
        runs: the run store (a job's run is enqueued through it).
        quarantine_vlan: `Settings.switch_quarantine_vlan`.
    """

    def __init__(self, db: Database, runs: RunStore, *, quarantine_vlan: int) -> None:
        self.db = db
        self.runs = runs
        self.quarantine_vlan = quarantine_vlan

    async def provisioned(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Enqueue the job that puts the service's host port on its VLAN (network commit)."""
        target = await self._target(conn, service_id)
        spec = switchport.provision_job(
            port=target.port, vlan=target.vlan, service_type=target.service_type
        )
        await self._enqueue(conn, ctx, target, spec)

    async def terminated(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Enqueue the job that takes the service's VLAN off its host port (terminate commit,
        before the address goes back to its pool)."""
        target = await self._target(conn, service_id)
        spec = switchport.terminate_job(
            port=target.port,
            vlan=target.vlan,
            service_type=target.service_type,
            quarantine_vlan=self.quarantine_vlan,
        )
        await self._enqueue(conn, ctx, target, spec)

    async def _target(self, conn: AsyncConnection, service_id: int) -> _Target:
        t = schema
        query = (
            sa.select(
                services.c.id,
                services.c.host_id,
                t.hosts.c.switch_port,
                t.subnets.c.vlan_id,
                t.products.c.service_type,
            )
            .select_from(
                services.join(t.orders, t.orders.c.id == services.c.order_id)
                .join(t.products, t.products.c.id == t.orders.c.product_id)
                .outerjoin(t.hosts, t.hosts.c.id == services.c.host_id)
                .outerjoin(t.ip_addresses, t.ip_addresses.c.order_id == services.c.order_id)
                .outerjoin(t.subnets, t.subnets.c.id == t.ip_addresses.c.subnet_id)
            )
            .where(services.c.id == service_id)
            # The service's VLAN is its primary lease's pool's: IPv4 first, then by lease.
            .order_by(t.subnets.c.vlan_id.is_(None), t.ip_addresses.c.family, t.ip_addresses.c.id)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            raise errors.InvariantViolation(f"service {service_id} does not exist")
        return _Target(row.id, row.host_id, row.switch_port, row.vlan_id, row.service_type)

    async def _enqueue(
        self,
        conn: AsyncConnection,
        ctx: PhaseContext,
        target: _Target,
        spec: SwitchJobSpec | None,
    ) -> None:
        if spec is None or target.host_id is None:
            if bool(target.port) != (target.vlan is not None):
                missing = "its pool has no VLAN" if target.port else "its host has no switch port"
                await ctx.record(conn, "switch_port_skipped", f"no switch-port job: {missing}")
            return
        key = switchport.dedupe_key(ctx.order_id, spec)
        exists = await conn.execute(
            sa.select(schema.runs.c.id).where(schema.runs.c.dedupe_key == key)
        )
        if exists.first() is not None:
            return
        run_id = await self.runs.enqueue(
            conn, ctx.order_id, kind=SWITCH_PORT_KIND, phase=Phase.SWITCH_PORT, dedupe_key=key
        )
        job = {"port": spec.port, "vlan": spec.vlan, "operation": spec.op}
        ids = {"run_id": run_id, "order_id": ctx.order_id, "service_id": target.service_id}
        await conn.execute(jobs.insert().values(host_id=target.host_id, **ids, **job))
        await ctx.record(
            conn,
            "switch_port_job_enqueued",
            f"switch-port job: {spec.op} VLAN {spec.vlan} on port {spec.port} (run {run_id})",
            {"run_id": run_id, **job},
        )

    async def job(self, run_id: int) -> SwitchJobRow:
        """The job a `switch_port` run executes.

        Raises:
            errors.InvariantViolation: the run has no job row.
        """
        async with self.db.connect() as conn:
            row = (await conn.execute(job_rows(run_id=run_id))).first()
        if row is None:
            raise errors.InvariantViolation(f"switch-port run {run_id} has no switch_port_jobs row")
        return job_row(row)

    async def vlan_users(self, job: SwitchJobRow) -> list[int]:
        """The other live services on the job's host whose pool is on the job's VLAN."""
        t = schema
        query = (
            sa.select(services.c.id)
            .select_from(
                services.join(
                    t.ip_addresses, t.ip_addresses.c.order_id == services.c.order_id
                ).join(t.subnets, t.subnets.c.id == t.ip_addresses.c.subnet_id)
            )
            .where(
                services.c.host_id == job.host_id,
                services.c.order_id != job.order_id,
                services.c.status != "terminated",
                t.subnets.c.vlan_id == job.vlan,
            )
            .order_by(services.c.id)
        )
        async with self.db.connect() as conn:
            return [int(r) for r in (await conn.execute(query)).scalars()]

    async def finish(self, conn: AsyncConnection, run_id: int, result: Mapping[str, Any]) -> None:
        """Keep what the job read back (inside the phase's completion transaction)."""
        await conn.execute(jobs.update().where(jobs.c.run_id == run_id).values(result=dict(result)))


def job_rows(
    order_id: int | None = None,
    *,
    state: RunState | None = None,
    before: int | None = None,
    run_id: int | None = None,
) -> sa.Select[Any]:
    """The jobs with their runs' state, attempts and last error, newest first.

    Args:
        order_id: one order's jobs only (None: every job).
        state: jobs whose run is in this state only.
        before: jobs with a smaller id only (the cursor of a page).
        run_id: the job of this run only.
    """
    runs = schema.runs
    query = (
        sa.select(
            jobs.c.id,
            jobs.c.run_id,
            jobs.c.order_id,
            jobs.c.service_id,
            jobs.c.host_id,
            jobs.c.port,
            jobs.c.vlan,
            jobs.c.operation,
            jobs.c.result,
            jobs.c.created_at,
            runs.c.state,
            runs.c.attempt,
            runs.c.last_error,
            runs.c.updated_at,
        )
        .select_from(jobs.join(runs, runs.c.id == jobs.c.run_id))
        .order_by(jobs.c.id.desc())
    )
    equal = ((jobs.c.order_id, order_id), (runs.c.state, state), (jobs.c.run_id, run_id))
    query = query.where(*(column == value for column, value in equal if value is not None))
    return query if before is None else query.where(jobs.c.id < before)
