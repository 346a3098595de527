"""What we ask PayPal to create for one invoice attempt: an order (pure)."""

from __future__ import annotations

from typing import Any

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal.amounts import paypal_amount

__all__ = ["order_request"]

_MAX_ID = 127


def order_request(
    invoice_ref: str,
    amount_minor: int,
    currency: str,
    *,
    description: str | None = None,
    brand_name: str | None = None,
    return_url: str | None = None,
    cancel_url: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /v2/checkout/orders`` for one of our invoices.

    Our invoice reference goes into ``invoice_id`` (PayPal refuses a second capture with
    the same one per merchant: a guard against paying twice) and ``custom_id`` (echoed on
    captures and refunds). ``intent`` is ``CAPTURE``; with a return or cancel URL the
    ``payment_source.paypal.experience_context`` is set (no shipping, "Pay Now").

    Args:
        invoice_ref: Our invoice reference (1-127 characters).
        amount_minor: The invoice total in minor units (positive).
        currency: ISO 4217 code.
        description: Shown to the payer (cut to 127 characters).
        brand_name: The shop name shown on PayPal's pages.
        return_url: Where PayPal sends the payer after approval.
        cancel_url: Where PayPal sends the payer after cancelling.

    Returns:
        The JSON body.

    Raises:
        errors.UserError: An empty or too long reference, a non-positive amount, or an
            amount PayPal cannot express.

    Example:
        >>> order_request("INV-7", 1999, "EUR")["purchase_units"][0]["amount"]
        {'currency_code': 'EUR', 'value': '19.99'}
    """
    if not invoice_ref or len(invoice_ref) > _MAX_ID:
        raise errors.UserError(f"invoice reference must be 1-{_MAX_ID} characters")
    if amount_minor <= 0:
        raise errors.UserError("an order amount must be positive")
    unit: dict[str, Any] = {
        "reference_id": "default",
        "invoice_id": invoice_ref,
        "custom_id": invoice_ref,
        "amount": paypal_amount(amount_minor, currency),
    }
    if description:
        unit["description"] = description[:_MAX_ID]
    body: dict[str, Any] = {"intent": "CAPTURE", "purchase_units": [unit]}
    context = {
        key: value
        for key, value in (
            ("brand_name", brand_name),
            ("return_url", return_url),
            ("cancel_url", cancel_url),
        )
        if value
    }
    if context:
        context |= {"shipping_preference": "NO_SHIPPING", "user_action": "PAY_NOW"}
        body["payment_source"] = {"paypal": {"experience_context": context}}
    return body
