"""Invoices: checkout at a gateway, the money story of one invoice, sync and reconcile.

The customer's return page (`GET /checkout/{invoice}/return`, no token) only shows the
invoice's state: a redirect back from a gateway proves nothing, so it never changes it.
"""

from __future__ import annotations

import html
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import Field, StringConstraints

from fluxbilling import audit, errors
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import ONE_LINE, Line, RequestBody, RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.billing import checkout
from fluxbilling.billing.reconciler import Report
from fluxbilling.db import schema

__all__ = ["InvoiceDetailOut", "InvoiceOut", "public", "router"]

router = APIRouter(
    prefix="/api/v1/invoices", tags=["billing"], dependencies=[Depends(require_token)]
)
public = APIRouter(tags=["billing"])

ReturnUrl = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000), ONE_LINE]


class CheckoutIn(RequestBody):
    """Which gateway the customer chose, and where to send them back (default: our page)."""

    gateway: Line = Field(min_length=1, max_length=32, examples=["mollie"])
    success_url: ReturnUrl | None = None
    cancel_url: ReturnUrl | None = None


class CheckoutOut(Row):
    """The payment created at the gateway: send the customer to `redirect_url`."""

    invoice_id: int
    gateway: str
    gateway_ref: str = Field(description="the gateway's id of the checkout")
    redirect_url: str
    attempt: int = Field(description="1 for the invoice's first checkout, 2 for its second, ...")


class InvoiceOut(Row):
    """An invoice."""

    id: int
    order_id: int
    amount_minor: int = Field(description="in the currency's minor unit (cents)")
    currency: str = Field(description="ISO 4217 code")
    status: schema.InvoiceStatus
    gateway: str | None = Field(description="the gateway that was paid through")
    gateway_ref: str | None = Field(description="the gateway's id of the paid checkout")
    paid_at: Timestamp | None
    created_at: Timestamp


class AttemptOut(Row):
    """One checkout started for the invoice."""

    gateway: str
    gateway_ref: str
    redirect_url: str
    created_at: Timestamp
    checked_at: Timestamp | None = Field(description="when the reconciler last asked about it")


class PaymentOut(Row):
    """A payment a gateway confirmed."""

    id: int
    invoice_id: int
    gateway: str
    gateway_payment_id: str
    alias_id: str | None = Field(description="another id the gateway knows the payment by")
    amount_minor: int
    currency: str
    created_at: Timestamp


class ReversalOut(Row):
    """A refund or a dispute of a payment."""

    id: int
    gateway: str
    kind: str = Field(description="refund or dispute")
    gateway_object_id: str
    gateway_payment_id: str
    invoice_id: int | None
    amount_minor: int
    currency: str
    full: bool = Field(description="whether it reverses the whole payment")
    applied: str | None = Field(description="what the refund policy did (null: not applied yet)")
    created_at: Timestamp
    updated_at: Timestamp


class InvoiceDetailOut(InvoiceOut):
    """An invoice with its checkouts, payments and reversals, oldest first."""

    attempts: list[AttemptOut]
    payments: list[PaymentOut]
    reversals: list[ReversalOut]


class SyncResultOut(Row):
    """What one checkout's state at its gateway did."""

    outcome: str
    detail: str


class SyncOut(Row):
    """What asking the gateways about an invoice did."""

    invoice_id: int
    results: list[SyncResultOut]


class ReportOut(Row):
    """What one reconciler pass did."""

    checked: int = Field(description="invoices asked about at their gateway")
    corrected: list[int] = Field(description="invoices whose state changed")
    deliveries: int = Field(description="stored deliveries processed again")
    reversals: int = Field(description="reversals whose refund policy was applied")
    pruned: int = Field(description="deliveries nobody vouched for, deleted")
    holds_expired: int = Field(description="checkout holds past their deadline, given back")
    errors: list[str]


@router.post(
    "/{invoice_id}/checkout",
    status_code=201,
    summary="Start paying an invoice",
    responses={
        404: {"description": "no such invoice, or the gateway is not configured"},
        409: {
            "description": "the invoice is not open (paid, refunded, ...), or no host has room "
            "for the order (no payment is created)"
        },
        502: {"description": "the gateway could not create the payment; nothing is stored"},
    },
)
async def start_checkout(
    invoice_id: RowId, body: CheckoutIn, request: Request, who: Operator
) -> CheckoutOut:
    """Holds capacity and an address for the order, creates the payment at the gateway,
    stores it, and answers the URL to redirect to."""
    installation = request.app.state.installation
    gateway = installation.gateways.get(body.gateway)
    if gateway is None:
        raise errors.NotFound(
            f"payment gateway {body.gateway!r} is not configured",
            configured=sorted(installation.gateways),
        )
    started = await checkout.start_checkout(
        installation.db,
        gateway,
        invoice_id,
        public_url=installation.settings.public_url,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        actor=who.name,
        hold_ttl_minutes=installation.settings.hold_ttl_minutes,
    )
    return CheckoutOut.model_validate(started)


@router.get("/{invoice_id}", summary="An invoice with its attempts, payments and reversals")
async def get_invoice(invoice_id: RowId, request: Request) -> InvoiceDetailOut:
    """Everything money-related about one invoice (no callback tokens)."""
    t = schema
    async with request.app.state.installation.db.connect() as conn:
        invoice = (
            await conn.execute(sa.select(t.invoices).where(t.invoices.c.id == invoice_id))
        ).first()
        if invoice is None:
            raise errors.NotFound(f"invoice {invoice_id} does not exist", invoice_id=invoice_id)
        attempts = (
            await conn.execute(
                sa.select(
                    t.payment_attempts.c.gateway,
                    t.payment_attempts.c.gateway_ref,
                    t.payment_attempts.c.redirect_url,
                    t.payment_attempts.c.created_at,
                    t.payment_attempts.c.checked_at,
                )
                .where(t.payment_attempts.c.invoice_id == invoice_id)
                .order_by(t.payment_attempts.c.id)
            )
        ).all()
        payments = (
            await conn.execute(
                sa.select(t.payments)
                .where(t.payments.c.invoice_id == invoice_id)
                .order_by(t.payments.c.id)
            )
        ).all()
        reversals = (
            await conn.execute(
                sa.select(t.money_reversals)
                .where(t.money_reversals.c.invoice_id == invoice_id)
                .order_by(t.money_reversals.c.id)
            )
        ).all()
    return InvoiceDetailOut(
        **invoice._mapping,
        attempts=[AttemptOut.model_validate(r) for r in attempts],
        payments=[PaymentOut.model_validate(r) for r in payments],
        reversals=[ReversalOut.model_validate(r) for r in reversals],
    )


@router.post(
    "/{invoice_id}/sync",
    summary="Ask the gateways about this invoice now",
    responses={502: {"description": "a gateway could not be asked; nothing half-applied"}},
)
async def sync_invoice(invoice_id: RowId, request: Request, who: Operator) -> SyncOut:
    """The reconciler for one invoice: fetch each attempt and apply it like a webhook would."""
    installation = request.app.state.installation
    results = await installation.reconciler().sync_invoice(invoice_id)
    async with installation.db.begin() as conn:  # what it applied wrote its own rows
        await audit.record(
            conn,
            actor=who.name,
            action="invoice.sync",
            entity="invoice",
            entity_id=invoice_id,
            changes={"outcomes": [r.outcome for r in results]},
        )
    if any(r.run_id is not None for r in results):
        installation.wakeup.notify()
    return SyncOut(
        invoice_id=invoice_id, results=[SyncResultOut.model_validate(r) for r in results]
    )


reconcile = APIRouter(
    prefix="/api/v1/reconciler", tags=["billing"], dependencies=[Depends(require_token)]
)


@reconcile.post(
    "/run",
    summary="Run one reconciler pass now",
    responses={502: {"description": "a gateway could not be asked; nothing half-applied"}},
)
async def run_reconciler(request: Request, who: Operator) -> ReportOut:
    """Open invoices, stuck deliveries and pending refund/chargeback actions."""
    installation = request.app.state.installation
    report: Report = await installation.reconciler().run_once()
    async with installation.db.begin() as conn:
        await audit.record(
            conn,
            actor=who.name,
            action="reconciler.run",
            entity="reconciler",
            entity_id=None,
            changes={"checked": report.checked, "corrected": list(report.corrected)},
        )
    if report.corrected:
        installation.wakeup.notify()
    return ReportOut.model_validate(report)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Invoice {id}</title></head><body><main>
<h1>Invoice {id}</h1><p id="status" data-status="{status}">{message}</p>
</main></body></html>"""
_MESSAGES = {
    schema.InvoiceStatus.PAID: "Thank you: your payment has been received and your service is being set up.",
    schema.InvoiceStatus.REFUNDED: "This invoice was refunded.",
    schema.InvoiceStatus.DISPUTED: "This invoice's payment is disputed.",
}


@public.get("/checkout/{invoice_id}/return", response_class=HTMLResponse, include_in_schema=False)
async def checkout_return(invoice_id: RowId, request: Request) -> HTMLResponse:
    """Read-only: shows the invoice's state; the payment itself is confirmed by the gateway."""
    inv = schema.invoices
    async with request.app.state.installation.db.connect() as conn:
        status = (
            await conn.execute(sa.select(inv.c.status).where(inv.c.id == invoice_id))
        ).scalar_one_or_none()
    if status is None:
        return HTMLResponse("<!doctype html><title>Not found</title><p>No such invoice.</p>", 404)
    canceled = request.query_params.get("canceled") == "1"
    message = _MESSAGES.get(
        status,
        "Payment canceled: the invoice is still open."
        if canceled
        else "We are waiting for the payment provider to confirm your payment.",
    )
    page = _PAGE.format(id=invoice_id, status=html.escape(status), message=html.escape(message))
    return HTMLResponse(page)
