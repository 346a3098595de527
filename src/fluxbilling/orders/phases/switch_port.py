"""The switch-port phase: the one phase of a `switch_port` run (a switch-port job).

`execute` reads the port, decides its new VLAN configuration (`network.switchport.plan`),
writes it only when it differs, and reads it back: the job is done only when what it read
satisfies the job (`satisfied`); a read-back that does not is a transient error, so the
engine retries it with the phase's policy. A `trunk_remove` job first looks for other live
services on the host on the same VLAN and, finding any, keeps the VLAN (done, nothing
written). `commit` keeps the read-back on the job and writes the order's activity row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import switchport
from fluxbilling.network.switchport import SwitchOp, SwitchPortBackend
from fluxbilling.orders.switch_jobs import SwitchJobRow

__all__ = ["SwitchJobStore", "SwitchPortPhase", "Switching"]


class SwitchJobStore(Protocol):
    """The switch-port jobs' port to the database (`orders.switch_jobs.SwitchJobs`; the fake
    is `fluxbilling.testing.InMemorySwitchJobs`)."""

    @property
    def quarantine_vlan(self) -> int:
        """The VLAN nothing else is on (`Settings.switch_quarantine_vlan`)."""
        ...

    async def provisioned(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Enqueue the job that puts the service's host port on its VLAN, in `conn`."""
        ...

    async def terminated(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Enqueue the job that takes the service's VLAN off its host port, in `conn`."""
        ...

    async def job(self, run_id: int) -> SwitchJobRow:
        """The job a `switch_port` run executes."""
        ...

    async def vlan_users(self, job: SwitchJobRow) -> list[int]:
        """The other live services on the job's host on the job's VLAN."""
        ...

    async def finish(self, conn: AsyncConnection, run_id: int, result: Mapping[str, Any]) -> None:
        """Keep what the job read back, in `conn`."""
        ...


@dataclass(frozen=True, slots=True)
class Switching:
    """What switch-port jobs need: the switch, and the jobs' store (with the quarantine VLAN)."""

    backend: SwitchPortBackend
    jobs: SwitchJobStore


class SwitchPortPhase:
    """Executes a `switch_port_jobs` row against the switch."""

    def __init__(self, switching: Switching | None) -> None:
        self.switching = switching

    def _ready(self) -> Switching:
        if self.switching is None:
            raise errors.PermanentUpstreamError(
                "no switch backend is configured (FLUXBILLING_SWITCH_BACKEND=none): "
                "configure one and retry the job",
                upstream="switch",
                operation="switch-port job",
            )
        return self.switching

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Move the port (when it is not there yet) and read it back."""
        switching = self._ready()
        job = await switching.jobs.job(ctx.claim.run_id)
        quarantine = switching.jobs.quarantine_vlan
        out: dict[str, Any] = {
            "job_id": job.id,
            "port": job.port,
            "vlan": job.vlan,
            "operation": job.operation,
            "kept_for": [],
            "changed": False,
        }
        if job.operation == SwitchOp.TRUNK_REMOVE:
            users = await switching.jobs.vlan_users(job)
            if users:
                out["kept_for"] = users
                out["read_back"] = None
                return Done(out)
        backend = switching.backend
        current = await backend.get_port(job.port)
        change = switchport.plan(job.operation, job.vlan, current, quarantine_vlan=quarantine)
        if change is not None and change.tag is not None:
            await backend.set_access_vlan(job.port, change.tag)
        elif change is not None and change.trunks is not None:
            await backend.set_trunks(job.port, change.trunks, expected=current.trunks)
        state = await backend.get_port(job.port)
        if not switchport.satisfied(job.operation, job.vlan, state, quarantine_vlan=quarantine):
            raise errors.TransientUpstreamError(
                f"port {job.port} read back {state.to_dict()} after {job.operation} VLAN {job.vlan}",
                upstream="switch",
                operation=f"{job.operation} VLAN {job.vlan}",
            )
        out["changed"] = change is not None
        out["read_back"] = state.to_dict()
        return Done(out)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Keep the read-back on the job; one activity row on the order."""
        out = done.output
        switching = self._ready()
        await switching.jobs.finish(conn, ctx.claim.run_id, out)
        port, vlan, op = out["port"], out["vlan"], out["operation"]
        if out["kept_for"]:
            users = ", ".join(str(s) for s in out["kept_for"])
            await ctx.record(
                conn,
                "switch_port_kept",
                f"VLAN {vlan} stays on port {port}: services {users} on the host use it",
                out,
            )
        else:
            verb = "set" if out["changed"] else "already set"
            await ctx.record(
                conn,
                "switch_port_set",
                f"port {port}: {op} VLAN {vlan} {verb}; read back {out['read_back']}",
                out,
            )
        return out
