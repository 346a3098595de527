"""Webhook ingestion: store the raw delivery, verify, dedupe, and clear the invoice exactly once.

```
POST /webhooks/stripe ─► 1. store raw delivery (own transaction; 5xx if this fails)
                         2. verify signature      ─► invalid: mark row, 400, nothing else
                         3. one transaction:
                              processed_events (gateway, event id)  ON CONFLICT → duplicate
                              lock the invoice; check amount, currency, mode, gateway object
                              payments UNIQUE(gateway, payment id)
                              invoice unpaid→paid, order awaiting_payment→provisioning_pending
                              enqueue the run (billing checkpoint + activity in the same tx)
```
A late "failed" never downgrades a paid invoice; a second event for the same payment hits
the payments key; a duplicate delivery hits the processed-events key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.billing import ledger, stripe
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.db import Database, schema
from fluxbilling.drivers.redaction import Redactor
from fluxbilling.engine.runs import RunStore

__all__ = ["Ingested", "StripeEndpoint"]

_HEADERS = Redactor()


@dataclass(frozen=True, slots=True)
class Ingested:
    """What happened to one delivery."""

    delivery_id: int
    outcome: str
    invoice_id: int | None = None
    run_id: int | None = None
    detail: str = ""


class StripeEndpoint:
    """Ingests Stripe deliveries for one endpoint (its secrets and mode).

    Args:
        db: the database.
        store: the run store (enqueue).
        secrets: endpoint secrets, current first (rotation).
        livemode: the mode this installation accepts.
        policy: acts on full refunds and disputes after each commit (none: recorded only).
    """

    gateway = "stripe"

    def __init__(
        self,
        db: Database,
        store: RunStore,
        secrets: Sequence[str],
        *,
        livemode: bool = False,
        policy: ReversalPolicy | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.secrets = list(secrets)
        self.livemode = livemode
        self.policy = policy

    async def ingest(
        self, body: bytes, headers: Mapping[str, str], *, remote: str | None, now: int
    ) -> Ingested:
        """Store, verify and process one delivery.

        Raises:
            errors.InvalidWebhook: the delivery is not authentic or not parseable (400);
                the raw delivery stays stored with the reason.
        """
        delivery_id = await self._store_raw(body, headers, remote)
        try:
            stripe.verify_signature(
                body, _header(headers, stripe.SIGNATURE_HEADER), self.secrets, now=now
            )
            event = stripe.parse_event(body)
        except errors.InvalidWebhook as exc:
            await self._mark(
                delivery_id, verification="invalid", outcome="rejected", error=exc.message
            )
            raise
        fact = stripe.classify(event)
        async with self.db.begin() as conn:
            result = await self._process(conn, delivery_id, event, fact)
            await conn.execute(
                schema.webhook_events.update()
                .where(schema.webhook_events.c.id == delivery_id)
                .values(
                    verification="valid",
                    outcome=result.outcome,
                    error=result.detail or None,
                    event_id=event.id,
                    event_type=event.type,
                    invoice_id=result.invoice_id,
                )
            )
        if self.policy is not None and result.outcome in ("refund_full", "dispute_full"):
            await self.policy.apply_pending()
        return result

    async def _store_raw(self, body: bytes, headers: Mapping[str, str], remote: str | None) -> int:
        async with self.db.begin() as conn:
            result = await conn.execute(
                schema.webhook_events.insert()
                .values(
                    gateway=self.gateway,
                    remote_addr=remote,
                    headers=_HEADERS.headers(dict(headers)),
                    body=body,
                )
                .returning(schema.webhook_events.c.id)
            )
            return int(result.scalar_one())

    async def _mark(self, delivery_id: int, **values: Any) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                schema.webhook_events.update()
                .where(schema.webhook_events.c.id == delivery_id)
                .values(**values)
            )

    async def _process(
        self,
        conn: AsyncConnection,
        delivery_id: int,
        event: stripe.StripeEvent,
        fact: PaymentFact,
    ) -> Ingested:
        first = await conn.execute(
            self.db.insert_ignore(schema.processed_events).values(
                gateway=self.gateway, event_id=event.id, delivery_id=delivery_id
            )
        )
        if first.rowcount == 0:
            # Link the repeat to the invoice of the first delivery, for the operator's search.
            events, deliveries = schema.processed_events, schema.webhook_events
            original = (
                await conn.execute(
                    sa.select(deliveries.c.id, deliveries.c.invoice_id)
                    .join(events, events.c.delivery_id == deliveries.c.id)
                    .where(events.c.gateway == self.gateway, events.c.event_id == event.id)
                )
            ).first()
            return Ingested(
                delivery_id,
                "duplicate",
                original.invoice_id if original else None,
                detail=f"event {event.id} already processed"
                + (f" (delivery {original.id})" if original else ""),
            )
        applied = await ledger.apply_fact(
            conn,
            db=self.db,
            store=self.store,
            gateway=self.gateway,
            fact=fact,
            livemode=self.livemode,
            delivery_id=delivery_id,
        )
        detail = applied.detail
        if applied.outcome == "ignored" and fact.kind == "ignored":
            detail = f"{event.type} needs no action"
        return Ingested(delivery_id, applied.outcome, applied.invoice_id, applied.run_id, detail)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)
