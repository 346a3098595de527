"""Checkout: create the payment at the chosen gateway for an unpaid invoice, store it, redirect.

```
POST /api/v1/invoices/{id}/checkout {"gateway": "mollie"}
  1. the invoice must be open (unpaid/pending), else 409
  2. attempt n = attempts so far + 1; idempotency key "fluxbilling-invoice-<id>-attempt-<n>"
  2b. hold: host capacity and an address are reserved for the order for the TTL, in one
     transaction (`allocation.holds`; a hold already held is extended). Nothing fits: 409
     "no capacity in <location> for <product>: cannot take payment", no gateway object
  3. the gateway creates its object (Checkout Session, Mollie payment, PayPal order,
     CoinGate order with a per-order callback token) — outside any transaction
  4. one transaction: payment_attempts row (gateway, ref, redirect URL, token HMAC);
     the invoice points at its newest attempt; an activity row
  5. answer the redirect URL
```
Every attempt stays recognised: a customer who pays an earlier one is still matched to the
invoice (`ledger`). The customer's return page (`GET /checkout/{invoice}/return`) only
shows the invoice's state; it never changes it (payments.md §6.13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluxbilling import audit, errors
from fluxbilling.allocation import holds
from fluxbilling.billing import money
from fluxbilling.billing.gateway import CheckoutRequest, Gateway
from fluxbilling.db import Database, schema
from fluxbilling.engine import activity
from fluxbilling.orders import view as order_view
from fluxbilling.orders.pipeline import Phase

__all__ = ["CheckoutStarted", "hold_capacity", "start_checkout"]


@dataclass(frozen=True, slots=True)
class CheckoutStarted:
    """Where to send the customer."""

    invoice_id: int
    gateway: str
    gateway_ref: str
    redirect_url: str
    attempt: int

    def to_dict(self) -> dict[str, Any]:
        """The API answer."""
        return {
            "invoice_id": self.invoice_id,
            "gateway": self.gateway,
            "gateway_ref": self.gateway_ref,
            "redirect_url": self.redirect_url,
            "attempt": self.attempt,
        }


def return_url(public_url: str, invoice_id: int) -> str:
    """The customer's return page for an invoice (read-only)."""
    return f"{public_url.rstrip('/')}/checkout/{invoice_id}/return"


async def start_checkout(
    db: Database,
    gateway: Gateway,
    invoice_id: int,
    *,
    public_url: str,
    success_url: str | None = None,
    cancel_url: str | None = None,
    actor: str | None = None,
    hold_ttl_minutes: int = 30,
) -> CheckoutStarted:
    """Create the gateway object for the invoice's next attempt and store it (see module).

    `actor` (who asked, through the API) is named by an audit row stored with the attempt.
    `hold_ttl_minutes` is how long the order's capacity and address are held (0: no hold).
    A hold stays when the gateway then fails: it expires, or the next attempt extends it.

    Raises:
        errors.NotFound: no such invoice.
        errors.Conflict: the invoice is not open for payment.
        errors.CapacityExhausted: nothing fits the order's product (no gateway object).
        errors.UpstreamError: the gateway could not create it (nothing is stored).
    """
    invoice, attempts = await _open_invoice(db, invoice_id)
    if hold_ttl_minutes > 0:
        await hold_capacity(db, invoice.order_id, ttl_minutes=hold_ttl_minutes)
    back = return_url(public_url, invoice_id)
    request = CheckoutRequest(
        invoice_id=invoice_id,
        attempt=attempts + 1,
        amount_minor=invoice.amount_minor,
        currency=invoice.currency,
        description=f"Invoice {invoice_id} ({invoice.hostname})",
        success_url=success_url or back,
        cancel_url=cancel_url or f"{back}?canceled=1",
        webhook_url=f"{public_url.rstrip('/')}/webhooks/{gateway.name}",
    )
    created = await gateway.create_checkout(request)
    table = schema.payment_attempts
    async with db.begin() as conn:
        await conn.execute(
            db.insert_ignore(table).values(
                invoice_id=invoice_id,
                gateway=gateway.name,
                gateway_ref=created.gateway_ref,
                redirect_url=created.redirect_url,
                callback_token_hash=created.callback_token_hash,
            )
        )
        moved = await conn.execute(
            schema.invoices.update()
            .where(
                schema.invoices.c.id == invoice_id, schema.invoices.c.status.in_(sorted(money.OPEN))
            )
            .values(gateway=gateway.name, gateway_ref=created.gateway_ref)
        )
        if moved.rowcount:
            await activity.record(
                conn,
                invoice.order_id,
                "checkout_started",
                f"checkout attempt {request.attempt} at {gateway.name}: {created.gateway_ref}",
                phase=Phase.BILLING,
                data={"gateway": gateway.name, "gateway_ref": created.gateway_ref},
            )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="invoice.checkout",
                entity="invoice",
                entity_id=invoice_id,
                changes={"gateway": gateway.name, "attempt": request.attempt},
            )
    return CheckoutStarted(
        invoice_id, gateway.name, created.gateway_ref, created.redirect_url, request.attempt
    )


async def hold_capacity(db: Database, order_id: int, *, ttl_minutes: int) -> holds.Placed:
    """Hold what the order will need for `ttl_minutes`, in one transaction (see module, 2b).

    Raises:
        errors.CapacityExhausted: nothing fits; the message names the location and product.
    """
    async with db.begin() as conn:
        view = await order_view.load(conn, order_id)
        product = view.product
        try:
            return await holds.place(
                db,
                conn,
                order_id=order_id,
                product=product,
                with_address=order_view.addressing(product) == "ipam",
                ttl_minutes=ttl_minutes,
            )
        except errors.CapacityExhausted as exc:
            where = view.location.get("name") or f"location {product['location_id']}"
            raise errors.CapacityExhausted(
                f"no capacity in {where} for {product['name']}: cannot take payment",
                order_id=order_id,
                location_id=product["location_id"],
                product=product["slug"],
                reason=exc.message,
            ) from exc


async def _open_invoice(db: Database, invoice_id: int) -> tuple[Any, int]:
    inv, orders, attempts = schema.invoices, schema.orders, schema.payment_attempts
    async with db.connect() as conn:
        invoice = (
            await conn.execute(
                sa.select(inv, orders.c.hostname)
                .join(orders, orders.c.id == inv.c.order_id)
                .where(inv.c.id == invoice_id)
            )
        ).first()
        if invoice is None:
            raise errors.NotFound(f"invoice {invoice_id} does not exist", invoice_id=invoice_id)
        if invoice.status not in money.OPEN:
            raise errors.Conflict(
                f"invoice {invoice_id} is {invoice.status}: nothing to pay",
                invoice_id=invoice_id,
                status=invoice.status,
            )
        count = (
            await conn.execute(
                sa.select(sa.func.count()).where(attempts.c.invoice_id == invoice_id)
            )
        ).scalar_one()
    return invoice, int(count)
