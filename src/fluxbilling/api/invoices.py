"""Invoices: checkout at a gateway, the money story of one invoice, sync and reconcile.

The customer's return page (`GET /checkout/{invoice}/return`, no token) only shows the
invoice's state: a redirect back from a gateway proves nothing, so it never changes it.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import Field, StringConstraints

from fluxbilling import errors
from fluxbilling.api.auth import require_token
from fluxbilling.api.fields import ONE_LINE, Line, RequestBody, RowId
from fluxbilling.billing import checkout
from fluxbilling.billing.reconciler import Report
from fluxbilling.db import schema
from fluxbilling.orders.phases.deps import plain

__all__ = ["public", "router"]

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


@router.post(
    "/{invoice_id}/checkout",
    status_code=201,
    summary="Start paying an invoice",
    responses={
        404: {"description": "no such invoice, or the gateway is not configured"},
        409: {"description": "the invoice is not open (paid, refunded, ...)"},
        502: {"description": "the gateway could not create the payment; nothing is stored"},
    },
)
async def start_checkout(invoice_id: RowId, body: CheckoutIn, request: Request) -> dict[str, Any]:
    """Creates the payment at the gateway, stores it, and answers the URL to redirect to."""
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
    )
    return started.to_dict()


@router.get("/{invoice_id}", summary="An invoice with its attempts, payments and reversals")
async def get_invoice(invoice_id: RowId, request: Request) -> dict[str, Any]:
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
    return {
        **plain(dict(invoice._mapping)),
        "attempts": [plain(dict(r._mapping)) for r in attempts],
        "payments": [plain(dict(r._mapping)) for r in payments],
        "reversals": [plain(dict(r._mapping)) for r in reversals],
    }


@router.post(
    "/{invoice_id}/sync",
    summary="Ask the gateways about this invoice now",
    responses={502: {"description": "a gateway could not be asked; nothing half-applied"}},
)
async def sync_invoice(invoice_id: RowId, request: Request) -> dict[str, Any]:
    """The reconciler for one invoice: fetch each attempt and apply it like a webhook would."""
    installation = request.app.state.installation
    results = await installation.reconciler().sync_invoice(invoice_id)
    if any(r.run_id is not None for r in results):
        installation.wakeup.notify()
    return {
        "invoice_id": invoice_id,
        "results": [{"outcome": r.outcome, "detail": r.detail} for r in results],
    }


reconcile = APIRouter(
    prefix="/api/v1/reconciler", tags=["billing"], dependencies=[Depends(require_token)]
)


@reconcile.post(
    "/run",
    summary="Run one reconciler pass now",
    responses={502: {"description": "a gateway could not be asked; nothing half-applied"}},
)
async def run_reconciler(request: Request) -> dict[str, Any]:
    """Open invoices, stuck deliveries and pending refund/chargeback actions."""
    installation = request.app.state.installation
    report: Report = await installation.reconciler().run_once()
    if report.corrected:
        installation.wakeup.notify()
    return report.to_dict()


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
