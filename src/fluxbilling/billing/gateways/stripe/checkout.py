"""What we ask Stripe to create for one invoice attempt: a Checkout Session (pure)."""

from __future__ import annotations

from typing import Any

from fluxbilling import errors

__all__ = ["checkout_request"]


def checkout_request(
    invoice_id: int | str,
    amount_minor: int,
    currency: str,
    success_url: str,
    cancel_url: str,
    description: str,
) -> dict[str, Any]:
    """The ``POST /v1/checkout/sessions`` parameters for one of our invoices (nested).

    Our invoice id travels three ways: ``client_reference_id`` and ``metadata.invoice_id``
    on the session, and ``payment_intent_data.metadata.invoice_id`` so the PaymentIntent
    (and the charge Stripe copies its metadata to) carries it too. `classify` reads it back
    as ``invoice_ref``. `api.encode_form` flattens the result into bracket notation.

    Args:
        invoice_id: Our invoice id.
        amount_minor: The amount in minor units, positive.
        currency: ISO 4217 code in any case (Stripe takes it lower-case).
        success_url: Where Checkout sends the customer after paying (Stripe replaces
            ``{CHECKOUT_SESSION_ID}`` in it).
        cancel_url: Where the customer's "back" link goes.
        description: The line item's product name, shown on the checkout page.

    Returns:
        The parameters as nested dicts and lists.

    Raises:
        errors.InvariantViolation: The amount is not a positive integer.
        errors.InvalidSettings: The currency is not three letters.

    Example:
        >>> body = checkout_request(7, 1050, "EUR", "https://s", "https://c", "Invoice 7")
        >>> body["line_items"][0]["price_data"]["currency"], body["metadata"]
        ('eur', {'invoice_id': '7'})
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise errors.InvariantViolation(
            "a Stripe checkout needs a positive amount in minor units", invoice_id=invoice_id
        )
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise errors.InvalidSettings(f"not an ISO 4217 currency: {currency!r}")
    reference = str(invoice_id)
    return {
        "mode": "payment",
        "client_reference_id": reference,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"invoice_id": reference},
        "payment_intent_data": {"metadata": {"invoice_id": reference}},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": description},
                },
            }
        ],
    }
