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
from fluxbilling.billing import stripe
from fluxbilling.db import Database, schema
from fluxbilling.drivers.redaction import Redactor
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders.pipeline import OrderState, Phase

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
    """

    gateway = "stripe"

    def __init__(
        self, db: Database, store: RunStore, secrets: Sequence[str], *, livemode: bool = False
    ) -> None:
        self.db = db
        self.store = store
        self.secrets = list(secrets)
        self.livemode = livemode

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
        fact: stripe.PaymentFact,
    ) -> Ingested:
        first = await conn.execute(
            self.db.insert_ignore(schema.processed_events).values(
                gateway=self.gateway, event_id=event.id, delivery_id=delivery_id
            )
        )
        if first.rowcount == 0:
            return Ingested(delivery_id, "duplicate", detail=f"event {event.id} already processed")
        if fact.kind != "paid":
            return Ingested(
                delivery_id, "ignored", detail=f"{event.type} ({fact.kind}) needs no action"
            )
        if fact.livemode != self.livemode:
            return Ingested(
                delivery_id, "rejected", detail="livemode does not match this installation"
            )
        invoice = await self._locked_invoice(conn, fact)
        if invoice is None:
            return Ingested(
                delivery_id, "unknown_invoice", detail=f"no invoice matches {fact.invoice_ref!r}"
            )
        problem = _mismatch(invoice, fact)
        if problem:
            return Ingested(delivery_id, "rejected", invoice.id, detail=problem)
        return await self._mark_paid(conn, delivery_id, invoice, fact)

    async def _locked_invoice(self, conn: AsyncConnection, fact: stripe.PaymentFact) -> Any:
        inv = schema.invoices
        by_gateway = inv.c.gateway_ref == fact.gateway_payment_id
        condition = by_gateway
        if fact.invoice_ref and fact.invoice_ref.isdigit():
            # Our own id is only a hint: it matches only invoices with no gateway object yet.
            condition = sa.or_(
                by_gateway, sa.and_(inv.c.id == int(fact.invoice_ref), inv.c.gateway_ref.is_(None))
            )
        query = sa.select(inv).where(condition)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        return (await conn.execute(query)).first()

    async def _mark_paid(
        self, conn: AsyncConnection, delivery_id: int, invoice: Any, fact: stripe.PaymentFact
    ) -> Ingested:
        payment = await conn.execute(
            self.db.insert_ignore(schema.payments).values(
                invoice_id=invoice.id,
                gateway=self.gateway,
                gateway_payment_id=fact.gateway_payment_id,
                amount_minor=fact.amount_minor,
                currency=fact.currency,
            )
        )
        paid = await conn.execute(
            schema.invoices.update()
            .where(
                schema.invoices.c.id == invoice.id,
                schema.invoices.c.status.in_(("unpaid", "pending")),
            )
            .values(
                status="paid",
                paid_at=self.db.now(),
                gateway=self.gateway,
                gateway_ref=fact.gateway_payment_id,
            )
        )
        if payment.rowcount == 0 or paid.rowcount == 0:
            return Ingested(
                delivery_id, "already_paid", invoice.id, detail="invoice was already paid"
            )
        moved = await conn.execute(
            schema.orders.update()
            .where(
                schema.orders.c.id == invoice.order_id,
                schema.orders.c.state == OrderState.AWAITING_PAYMENT,
            )
            .values(state=OrderState.PROVISIONING_PENDING, updated_at=self.db.now())
        )
        await activity.record(
            conn,
            invoice.order_id,
            "invoice_paid",
            f"invoice {invoice.id} paid via stripe ({fact.amount_minor} {fact.currency})",
            phase=Phase.BILLING,
            data={"payment": fact.gateway_payment_id, "delivery_id": delivery_id},
        )
        if moved.rowcount == 0:
            return Ingested(
                delivery_id, "paid_no_order", invoice.id, detail="order was not awaiting payment"
            )
        run_id = await self.store.enqueue(
            conn,
            invoice.order_id,
            phase=Phase.ALLOCATION,
            completed={
                Phase.BILLING: {
                    "invoice_id": invoice.id,
                    "gateway": self.gateway,
                    "payment": fact.gateway_payment_id,
                    "amount_minor": fact.amount_minor,
                    "currency": fact.currency,
                }
            },
        )
        return Ingested(delivery_id, "processed", invoice.id, run_id)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _mismatch(invoice: Any, fact: stripe.PaymentFact) -> str:
    if fact.currency != invoice.currency:
        return f"currency {fact.currency} does not match the invoice's {invoice.currency}"
    if fact.amount_minor < invoice.amount_minor:
        return f"underpaid: {fact.amount_minor} < {invoice.amount_minor} {invoice.currency}"
    if invoice.gateway_ref not in (None, fact.gateway_payment_id):
        return "the payment object is not the one created for this invoice"
    return ""
