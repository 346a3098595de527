"""Allocation phase: reserve a host's capacity and a primary address, atomically with the checkpoint.

An order whose checkout holds capacity (`allocation.holds`) adopts that hold instead: the
same host and address, the hold marked consumed in this transaction, nothing counted twice.
Orders paid without a checkout, or whose hold expired and was given back, reserve here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.orders import view as order_view
from fluxbilling.orders.phases.deps import PhaseDeps

__all__ = ["AllocationPhase"]


class AllocationPhase:
    """Everything happens in `commit`: choosing and reserving must share one locked transaction."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Nothing to do outside the database."""
        return Done()

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Adopt the checkout's hold, or choose and reserve; `CapacityExhausted` parks the run
        with the reason."""
        writes = self.deps.store.writes(conn, ctx)
        current = await writes.view(ctx.order_id)
        ours = order_view.addressing(current.product) == "ipam"
        held = await writes.adopt_hold(ctx.order_id)
        if held is not None:
            await writes.record(
                "hold_consumed",
                f"checkout hold adopted: {held.host_name}"
                + (f", address {held.address}" if held.address else ""),
                held.to_dict(),
            )
        reserved = held or await writes.reserve(ctx.order_id, current.product, with_address=ours)
        service_id = await writes.create_service(
            ctx.order_id, reserved.host_id, storage_pool_id=reserved.pool_id
        )
        output = {**reserved.to_dict(), "service_id": service_id}
        where = f"address {reserved.address}" if ours else "the provider assigns the address"
        pool = f" (pool {reserved.pool})" if reserved.pool_id is not None else ""
        await writes.record(
            "capacity_reserved",
            f"reserved {current.product['ram_mb']} MB / {current.product['vcpus']} vCPU / "
            f"{current.product['disk_gb']} GB on {reserved.host_name}{pool}, {where}"
            f"{_why(reserved.placement)}",
            output,
        )
        return output


def _why(placement: Mapping[str, Any]) -> str:
    """The placement in a few words: strategy, and how many hosts lost, by reason."""
    if not placement:
        return ""
    rejected = placement.get("rejected") or {}
    lost = ", ".join(f"{n} {reason}" for reason, n in rejected.items())
    return f"; {placement.get('strategy')}" + (f", lost: {lost}" if lost else "")
