"""What a full refund or a chargeback does to the service: the product's policy, exactly once.

The ledger records the reversal and marks the invoice `refunded`/`disputed` in the webhook's
transaction; after the commit, `ReversalPolicy.apply_pending` acts on every full reversal not
applied yet. It is safe to run any number of times, from any process: the action it queues
carries the idempotency key `reversal-<id>`, so a crash between queueing and marking the
reversal applied can never queue a second one.

| product `options.refund_policy` | service active or suspended   | provisioning not finished |
|---------------------------------|-------------------------------|---------------------------|
| `suspend` (default)             | suspend action (plugin flow)  | the run is cancelled      |
| `terminate`                     | terminate action              | the run is cancelled      |
| `none`                          | recorded only                 | recorded only             |

Partial refunds are recorded and shown, never acted on. One reversal whose action fails is
logged and counted (`metrics.RECONCILER_FAILURES`, stage ``reversal``) and stays pending for
the next pass; it never keeps the others from being applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors, metrics
from fluxbilling.db import Database, schema
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders import actions, lifecycle
from fluxbilling.orders.pipeline import PROVISION_KIND, Phase, RunState
from fluxbilling.vault import Vault

__all__ = ["POLICIES", "ReversalPolicy"]

POLICIES = tuple(actions.RefundPolicy)

log = logging.getLogger(__name__)


@dataclass
class ReversalPolicy:
    """Applies the refund/chargeback policy of each product."""

    db: Database
    store: RunStore
    drivers: DriverRegistry
    vault: Vault

    async def apply_pending(self) -> list[str]:
        """Act on every full reversal not applied yet; returns what was done, one line each."""
        reversals = schema.money_reversals
        async with self.db.connect() as conn:
            pending = (
                await conn.execute(
                    sa.select(reversals, schema.invoices.c.order_id)
                    .join(schema.invoices, schema.invoices.c.id == reversals.c.invoice_id)
                    .where(reversals.c.full.is_(True), reversals.c.applied.is_(None))
                    .order_by(reversals.c.id)
                )
            ).all()
        done: list[str] = []
        for row in pending:
            try:
                done.append(await self._apply(row))
            except Exception:  # one reversal never blocks the others; retried next pass
                metrics.RECONCILER_FAILURES.labels("reversal").inc()
                log.exception("reversal %s (order %s): the policy failed", row.id, row.order_id)
        return done

    async def _apply(self, reversal: Any) -> str:
        order_id = int(reversal.order_id)
        async with self.db.connect() as conn:
            product = (
                await conn.execute(
                    sa.select(schema.products.c.options)
                    .join(schema.orders, schema.orders.c.product_id == schema.products.c.id)
                    .where(schema.orders.c.id == order_id)
                )
            ).scalar_one()
            service = (
                await conn.execute(
                    sa.select(schema.services).where(schema.services.c.order_id == order_id)
                )
            ).first()
            run = (
                await conn.execute(
                    sa.select(schema.runs).where(
                        schema.runs.c.order_id == order_id, schema.runs.c.kind == PROVISION_KIND
                    )
                )
            ).first()
        policy = str((product or {}).get("refund_policy") or "suspend")
        why = f"{reversal.kind} {reversal.gateway_object_id}"
        if policy == "none":
            applied = "recorded only (policy none)"
        elif run is not None and run.state != RunState.COMPLETED:
            if run.state != RunState.CANCELLED:
                await self.store.cancel(run.id, actor=f"billing ({why})")
            applied = "provisioning cancelled"
        elif service is None or service.status == lifecycle.ServiceState.TERMINATED:
            applied = "nothing to do: no live service"
        elif policy == "suspend" and service.status == lifecycle.ServiceState.SUSPENDED:
            applied = "already suspended"
        else:
            queued = await self._queue(service.id, reversal.id, policy, why)
            if queued is None:
                return f"order {order_id}: waiting for the service's running action"
            applied = queued
        async with self.db.begin() as conn:
            await conn.execute(
                schema.money_reversals.update()
                .where(schema.money_reversals.c.id == reversal.id)
                .values(applied=applied[:200])
            )
            await activity.record(
                conn,
                order_id,
                "reversal_policy",
                f"{why}: {applied} (refund policy {policy})",
                phase=Phase.BILLING,
                data={"reversal_id": reversal.id, "policy": policy},
            )
        return f"order {order_id}: {applied}"

    async def _queue(self, service_id: int, reversal_id: int, verb: str, why: str) -> str | None:
        """Queue the policy's action; None when another action runs (try again later)."""
        try:
            action = await actions.request_action(
                self.db,
                self.store,
                self.drivers,
                self.vault,
                service_id=service_id,
                verb=verb,
                actor="billing",
                reason=f"{why}: payment reversed",
                idempotency_key=f"reversal-{reversal_id}",
            )
        except errors.Conflict as exc:
            if "already has action" in exc.message:
                return None
            return f"not applied: {exc.message}"
        except errors.InvalidSettings as exc:
            return f"not applied: {exc.message}"
        return f"{verb} queued (action {action['id']})"
