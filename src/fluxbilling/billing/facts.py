"""What a gateway notification (or a fetched gateway object) means for our invoices.

Every gateway module (`stripe`, `mollie`, `paypal`, `coingate`) turns what it verified or
fetched into `PaymentFact`s; one gateway-neutral ledger applies them. Facts carry amounts in
integer minor units and upper-case ISO 4217 currencies, never floats.

| kind      | meaning                                                    | effect on a paid invoice |
|-----------|------------------------------------------------------------|--------------------------|
| paid      | the money is ours                                          | (already paid: none)     |
| pending   | the customer started paying; not final                     | none                     |
| failed    | the attempt failed, expired or was canceled                | none: never downgrades   |
| underpaid | the customer paid less than asked (CoinGate)               | none; manual review      |
| refund    | money went back (full or partial, `amount_minor`)          | recorded; full → policy  |
| dispute   | a chargeback / dispute was opened                          | recorded → policy        |
| ignored   | nothing for us (unknown type, other product)               | none                     |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PaymentFact", "PaymentKind"]

PaymentKind = Literal["paid", "pending", "failed", "underpaid", "refund", "dispute", "ignored"]


@dataclass(frozen=True, slots=True)
class PaymentFact:
    """One money fact about one gateway payment.

    Attributes:
        kind: see the module table.
        gateway_payment_id: The payment object the fact is about (Stripe Checkout Session,
            PaymentIntent or Invoice; Mollie `tr_...`; PayPal order or capture; CoinGate
            order id). For refunds and disputes, the payment they belong to.
        invoice_ref: Our invoice reference carried by the object (metadata, custom id,
            order id), if any. Money is matched on `gateway_payment_id` first; this is only
            the secondary hint.
        amount_minor: Amount in minor units (paid, refunded or disputed amount).
        currency: Upper-case ISO 4217 code.
        livemode: Whether the object lives in live (production) mode.
        gateway_object_id: The id of the fact's own object (a refund `re_...`, a chargeback
            `chb_...`, a dispute `dp_...`), the dedupe key of refunds and disputes.
        alias_id: Another id of the same payment that later facts may use (a Stripe Checkout
            Session's PaymentIntent, which its refunds and disputes name).
    """

    kind: PaymentKind
    gateway_payment_id: str
    invoice_ref: str | None
    amount_minor: int
    currency: str
    livemode: bool
    gateway_object_id: str = ""
    alias_id: str = ""
