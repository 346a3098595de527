"""What a provisioning run's progress does to its order: the engine's `RunHooks` for orders.

The engine calls this in the run's own transaction; the order moves through
`orders.lifecycle` (its one writer). A lifecycle action's run leaves the order, and its
running service, as they are: only provisioning runs move their order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import Database
from fluxbilling.engine.pipeline import RunEvent, RunRef
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import PROVISION_KIND

__all__ = ["OrderProgress"]

_ORDER_EVENTS = {
    RunEvent.FAILED: lifecycle.OrderEvent.FAILED,
    RunEvent.RETRIED: lifecycle.OrderEvent.RETRIED,
    RunEvent.CANCELLED: lifecycle.OrderEvent.CANCELLED,
}


class OrderProgress:
    """Moves the orders of provisioning runs as their runs start, fail, are retried or cancelled.

    Args:
        db: the database (its clock stamps the orders).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self, conn: AsyncConnection, event: RunEvent, runs: Sequence[RunRef], *, note: str
    ) -> None:
        """Apply `event` to the orders of `runs` that are provisioning runs."""
        sources = {
            r.order_id: lifecycle.Source(r.run_id, r.phase, r.lease_token, r.worker)
            for r in runs
            if r.kind == PROVISION_KIND
        }
        if event == RunEvent.STARTED:
            # Orders already past provisioning_pending (a taken-over run) stay where they are.
            await lifecycle.start_orders(self.db, conn, sources, note=note)
            return
        for order_id, source in sources.items():
            await lifecycle.transition_order(
                self.db, conn, order_id, _ORDER_EVENTS[event], note=note, source=source
            )
