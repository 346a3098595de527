"""What a gateway notification (or a fetched gateway object) means for our invoices.

Every gateway package (`gateways.stripe`, `.mollie`, `.paypal`, `.coingate`) turns what it
verified or fetched into `PaymentFact`s; one gateway-neutral ledger applies them. Facts carry
amounts in integer minor units and upper-case ISO 4217 currencies, never floats.

| kind      | meaning                                                    | effect on a paid invoice |
|-----------|------------------------------------------------------------|--------------------------|
| paid      | the money is ours                                          | (already paid: none)     |
| pending   | the customer started paying; not final                     | none                     |
| failed    | the attempt failed, expired or was canceled                | none: never downgrades   |
| underpaid | the customer paid less than asked (CoinGate)               | none; manual review      |
| refund    | money went back (full or partial, `amount_minor`)          | recorded; full → policy  |
| dispute   | a chargeback / dispute was opened                          | recorded → policy        |
| ignored   | nothing for us (unknown type, other product)               | none                     |

A fact comes from a gateway, signed or fetched, so it is still input: `unstorable` says why
one cannot be written as it is (an amount outside ``0 .. MAX_AMOUNT_MINOR``, a currency that
is not three letters, an id our columns cannot hold), and the ledger refuses such a fact
before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_AMOUNT_MINOR", "MAX_ID_LENGTH", "PaymentFact", "PaymentKind", "unstorable"]

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


MAX_AMOUNT_MINOR = 2**53 - 1
"""The largest amount (minor units) a fact may carry: every JSON reader keeps it exact, it is
far above any real payment, and far enough below BIGINT's 2**63 - 1 that the sum of a
payment's refunds cannot overflow either."""

MAX_ID_LENGTH = 255
"""The longest gateway object id our columns hold (``String(255)``)."""

_CURRENCY = re.compile(r"[A-Z]{3}")


def _bad_text(value: str) -> bool:
    """NUL (PostgreSQL text refuses it) or a lone surrogate (not encodable as UTF-8)."""
    return "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)


def unstorable(fact: PaymentFact) -> str:
    """Why `fact` cannot be written as it is; empty when it can.

    Example:
        >>> unstorable(PaymentFact("paid", "cs_1", "7", 1000, "EUR", False))
        ''
        >>> unstorable(PaymentFact("paid", "cs_1", "7", 10**20, "EUR", False))
        'amount out of range: more than 9007199254740991 minor units'
    """
    amount = fact.amount_minor
    if isinstance(amount, bool) or not isinstance(amount, int):
        return "amount is not an integer number of minor units"
    if amount < 0:
        return "amount out of range: negative"
    if amount > MAX_AMOUNT_MINOR:
        # Never formatted: an int of thousands of digits cannot even be printed.
        return f"amount out of range: more than {MAX_AMOUNT_MINOR} minor units"
    if fact.currency and not _CURRENCY.fullmatch(fact.currency):
        return f"currency {fact.currency[:8]!r} is not an ISO 4217 code"
    for name in ("gateway_payment_id", "gateway_object_id", "alias_id"):
        value: str = getattr(fact, name)
        if len(value) > MAX_ID_LENGTH or _bad_text(value):
            return f"{name} is not an id we can store ({len(value)} characters)"
    return ""
