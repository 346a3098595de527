"""What we ask Mollie to create for one invoice attempt: a payment (pure)."""

from __future__ import annotations

from typing import Any

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie.amounts import format_amount

__all__ = ["checkout_request"]


def checkout_request(
    invoice_id: int | str,
    amount_minor: int,
    currency: str,
    description: str,
    redirect_url: str,
    webhook_url: str,
) -> dict[str, Any]:
    """The ``POST /v2/payments`` body for one of our invoices.

    Args:
        invoice_id: Our invoice id, sent as ``metadata.invoice_id`` (a string).
        amount_minor: The amount in minor units, positive.
        currency: ISO 4217 code Mollie supports (any case; sent upper-case).
        description: Shown to the customer and on their statement.
        redirect_url: Where Mollie sends the customer after the checkout.
        webhook_url: Our classic webhook endpoint for this payment.

    Returns:
        The JSON body.

    Raises:
        errors.InvalidSettings: The currency is not one Mollie supports.
        errors.InvariantViolation: The amount is not a positive integer.

    Example:
        >>> checkout_request(7, 1050, "eur", "Invoice 7", "https://r", "https://w")["amount"]
        {'currency': 'EUR', 'value': '10.50'}
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise errors.InvariantViolation(
            "a Mollie payment needs a positive amount in minor units", invoice_id=invoice_id
        )
    return {
        "amount": {"currency": currency.upper(), "value": format_amount(amount_minor, currency)},
        "description": description,
        "redirectUrl": redirect_url,
        "webhookUrl": webhook_url,
        "metadata": {"invoice_id": str(invoice_id)},
    }
