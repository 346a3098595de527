"""What a provisioning run's progress does to its order: the engine's `RunHooks` for orders.

The engine calls this in the run's own transaction with the activity row of each run's
event; the order moves through `orders.lifecycle` (its one writer), and the move is recorded
on that row, not on one of its own. A lifecycle action's run leaves the order, and its
running service, as they are: only provisioning runs move their order, and the others' rows
are written alone. A cancelled provisioning run gives back its order's checkout hold if it
is still held (`allocation.holds`), whoever cancelled it (operator, CLI, refund policy).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation import holds
from fluxbilling.db import Database
from fluxbilling.engine.pipeline import RunEntry, RunEvent
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import PROVISION_KIND

__all__ = ["OrderProgress"]

_ORDER_EVENTS = {
    RunEvent.FAILED: lifecycle.OrderEvent.FAILED,
    RunEvent.RETRIED: lifecycle.OrderEvent.RETRIED,
    RunEvent.CANCELLED: lifecycle.OrderEvent.CANCELLED,
}


def _entry(entry: RunEntry) -> lifecycle.Entry:
    run = entry.run
    source = lifecycle.Source(run.run_id, run.phase, run.lease_token, run.worker)
    return lifecycle.Entry(run.order_id, entry.event, entry.message, entry.data, source)


class OrderProgress:
    """Moves the orders of provisioning runs as their runs start, fail, are retried or cancelled.

    Args:
        db: the database (its clock stamps the orders).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self, conn: AsyncConnection, event: RunEvent, entries: Sequence[RunEntry]
    ) -> None:
        """Apply `event` to the orders of `entries` that are provisioning runs; write the rows."""
        if event == RunEvent.STARTED:
            # One UPDATE and one INSERT for the claim. Orders already past
            # provisioning_pending (a taken-over run) stay where they are, without a row.
            provisioning = [_entry(e) for e in entries if e.run.kind == PROVISION_KIND]
            await lifecycle.start_orders(self.db, conn, provisioning)
            return
        for entry in entries:
            moved = lifecycle.order(entry.run.order_id, _ORDER_EVENTS[event])
            moves = [moved] if entry.run.kind == PROVISION_KIND else []
            await lifecycle.transition(self.db, conn, _entry(entry), *moves)
            if moves and event == RunEvent.CANCELLED:
                actor = (entry.data or {}).get("actor", "an operator")
                await holds.release_for_order(
                    self.db,
                    conn,
                    order_id=entry.run.order_id,
                    reason=f"{actor} cancelled the order",
                )
