"""What a payment fact or a refund/chargeback does to an invoice: pure decisions, no I/O.

`ledger` is the shell: it locks and loads what a decision needs (the invoice, the payment,
the reversals already recorded), calls one function here and writes what it returns, in the
caller's transaction. Nothing here reads a clock, the database or a log.

```
screen(fact, livemode)            before any lookup
  ignored                          ignored          nothing for us
  unstorable (amount out of range) rejected         nothing recorded
  other mode than the installation rejected
on_payment(invoice, fact)         pending, failed, underpaid, paid; the invoice locked
  no invoice                       unknown_invoice
  not paid, invoice open           <kind>           recorded only: the invoice stays open
  not paid, invoice closed         ignored          a late failure never downgrades
  paid: other currency             rejected         mismatch, for a human
  paid: less than the total        rejected         (more is accepted)
  paid: another invoice's object   rejected
settle(invoice, fact, ..., earlier) paid and accepted
  no full reversal came first      processed        paid; order paid, the run enqueued
  a full refund/dispute came first reversed         refunded/disputed; nothing provisioned
on_reversal(fact, ...)            refund, dispute; `full` from `reversal_is_full`
  new, amount 0                    ignored          moved no money: not recorded
  new                              <kind>_full|partial  recorded; full: paid → refunded/disputed
  amount grew, or became full      <kind>_full|partial  (cumulative: the amount only grows)
  amount 0 of a recorded one       <kind>_voided    refunded/disputed → paid again
  anything else                    duplicate
  no payment of ours yet           reversal_stored  linked when the payment arrives (`settle`)
```
The ledger's guarded updates stay the last word under concurrency: a decision to pay an
invoice another transaction paid first ends as `already_paid` (`ALREADY_PAID`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from fluxbilling.billing import facts
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.db.schema import InvoiceStatus

__all__ = [
    "ALREADY_PAID",
    "OPEN",
    "REVERSED",
    "Invoice",
    "Note",
    "Outcome",
    "Pay",
    "Payment",
    "Reversal",
    "ReversalDecision",
    "Settlement",
    "on_payment",
    "on_reversal",
    "reversal_is_full",
    "screen",
    "settle",
]

ReversalKind = Literal["refund", "dispute"]

OPEN: frozenset[InvoiceStatus] = frozenset({InvoiceStatus.UNPAID, InvoiceStatus.PENDING})
"""Invoices a checkout may start for and a payment may pay."""

REVERSED: Mapping[str, InvoiceStatus] = {
    "refund": InvoiceStatus.REFUNDED,
    "dispute": InvoiceStatus.DISPUTED,
}
"""The status a full reversal of each kind gives a paid invoice."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying a fact came to (`ledger.Applied.outcome` and `detail`)."""

    name: str
    detail: str = ""


ALREADY_PAID = Outcome("already_paid", "invoice was already paid")


@dataclass(frozen=True, slots=True)
class Invoice:
    """The invoice a fact names, as locked by the ledger.

    Attributes:
        by_attempt: The fact's object is one of the checkout attempts we created for it.
    """

    id: int
    order_id: int
    status: InvoiceStatus
    amount_minor: int
    currency: str
    gateway_ref: str | None = None
    by_attempt: bool = False


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment we recorded (`payments` row), found by its id or its alias."""

    invoice_id: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Reversal:
    """A refund or dispute we recorded (`money_reversals` row).

    Attributes:
        applied: What the reversal policy did about it, None while it has not acted.
    """

    id: int
    kind: ReversalKind
    gateway_object_id: str
    amount_minor: int
    full: bool = False
    applied: str | None = None


@dataclass(frozen=True, slots=True)
class Pay:
    """`on_payment`'s answer to a paid fact it accepts: `settle` it against `invoice`."""

    invoice: Invoice


@dataclass(frozen=True, slots=True)
class Note:
    """One activity row for the invoice's order."""

    event: str
    message: str
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What an accepted paid fact does.

    Attributes:
        status: The invoice's new status: paid, or refunded/disputed (`reversed_by`).
        reversed_by: A full reversal of this payment recorded before it: nothing is
            provisioned, and the reversal is marked as never provisioned.
        notes: The activity rows, in order.
        provision: Move the order on (paid) and enqueue its run.
        outcome: The answer when nothing is provisioned; ``processed`` otherwise.
    """

    status: InvoiceStatus
    reversed_by: Reversal | None
    notes: tuple[Note, ...]
    provision: bool
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ReversalDecision:
    """What one refund or dispute fact does.

    Attributes:
        write: ``insert`` a new reversal, ``update`` the recorded one (amount, full, its
            invoice), ``void`` it (amount 0, not full), or ``none``.
        amount_minor: The reversal's amount after the write.
        full: Whether the reversal covers the payment after the write.
        invoice_status: The invoice's new status, None to leave it ...
        status_from: ... and the status it must have for that (a guarded update).
        note: The activity row, if any.
        outcome: The answer.
    """

    write: Literal["insert", "update", "void", "none"]
    amount_minor: int
    full: bool
    invoice_status: InvoiceStatus | None
    status_from: InvoiceStatus | None
    note: Note | None
    outcome: Outcome


def screen(fact: PaymentFact, *, livemode: bool) -> Outcome | None:
    """Refuse what no invoice needs to be looked up for; None: go on.

    Example:
        >>> screen(PaymentFact("paid", "cs_1", "7", 1000, "EUR", True), livemode=False).detail
        'livemode: a live-mode object does not match this installation'
    """
    if fact.kind == "ignored":
        return Outcome("ignored", "nothing for us in this notification")
    problem = facts.unstorable(fact)
    if problem:
        return Outcome("rejected", f"{fact.kind}: {problem}; nothing recorded")
    if fact.livemode != livemode:
        mode = "live" if fact.livemode else "test"
        return Outcome(
            "rejected", f"livemode: a {mode}-mode object does not match this installation"
        )
    return None


def _mismatch(invoice: Invoice, fact: PaymentFact) -> str:
    if fact.currency != invoice.currency:
        return f"currency {fact.currency} does not match the invoice's {invoice.currency}"
    if fact.amount_minor < invoice.amount_minor:
        return f"underpaid: {fact.amount_minor} < {invoice.amount_minor} {invoice.currency}"
    if invoice.gateway_ref not in (None, fact.gateway_payment_id) and not invoice.by_attempt:
        return "the payment object is not the one created for this invoice"
    return ""


def on_payment(invoice: Invoice | None, fact: PaymentFact) -> Outcome | Pay:
    """What a payment fact (not a refund or dispute) does; `Pay`: a paid fact to `settle`.

    Args:
        invoice: The invoice the fact names (locked), None when none does.
        fact: A screened fact of kind paid, pending, failed or underpaid.
    """
    if invoice is None:
        return Outcome("unknown_invoice", f"no invoice matches {fact.invoice_ref!r}")
    if fact.kind != "paid":
        if invoice.status not in OPEN:
            return Outcome("ignored", f"{fact.kind} after {invoice.status}: no downgrade")
        return Outcome(fact.kind, f"payment {fact.kind}; invoice stays open")
    problem = _mismatch(invoice, fact)
    return Outcome("rejected", problem) if problem else Pay(invoice)


def settle(
    invoice: Invoice, fact: PaymentFact, gateway: str, earlier: Sequence[Reversal]
) -> Settlement:
    """What an accepted paid fact does, given the reversals of it recorded before it came.

    A dispute, or a refund of at least the paid amount, reverses the payment before anything
    is provisioned; partial refunds do not.
    """
    reversed_by = next(
        (r for r in earlier if r.kind == "dispute" or r.amount_minor >= fact.amount_minor), None
    )
    data = {"payment": fact.gateway_payment_id}
    paid = Note(
        "invoice_paid",
        f"invoice {invoice.id} paid via {gateway} ({fact.amount_minor} {fact.currency})",
        data,
    )
    if reversed_by is None:
        return Settlement(InvoiceStatus.PAID, None, (paid,), True, Outcome("processed"))
    before = Note(
        "payment_reversed_before_paid",
        f"{reversed_by.kind} {reversed_by.gateway_object_id} arrived before the payment: "
        "nothing is provisioned",
        data,
    )
    return Settlement(
        REVERSED[reversed_by.kind],
        reversed_by,
        (paid, before),
        False,
        Outcome("reversed", f"already {REVERSED[reversed_by.kind]}"),
    )


def reversal_is_full(fact: PaymentFact, payment: Payment | None, other_refunds: int) -> bool:
    """Whether a refund or dispute covers its payment: any dispute; refunds added up.

    A fact that moves no money is never full: that is a voided reversal (Mollie lists a
    reversed chargeback again, with amount 0, on every later fetch of its payment).

    Args:
        fact: The refund or dispute.
        payment: Its payment, None when we have not recorded it (yet): never full.
        other_refunds: What the payment's other refunds returned (Mollie and PayPal: one
            object per refund; Stripe and CoinGate send one cumulative amount).
    """
    if payment is None or fact.amount_minor == 0:
        return False
    return fact.kind == "dispute" or fact.amount_minor + other_refunds >= payment.amount_minor


def _void(existing: Reversal, invoice_id: int | None) -> ReversalDecision:
    """A refund that failed or was canceled, a chargeback reversed (Mollie): no money left."""
    kind = existing.kind
    detail = f"{kind} {existing.gateway_object_id} voided: the money did not leave after all"
    outcome = Outcome(f"{kind}_voided", detail)
    if invoice_id is None:
        return ReversalDecision("void", 0, False, None, None, None, outcome)
    after = (
        f"; the service stays as the policy left it ({existing.applied}): undo by hand"
        if existing.applied
        else ""
    )
    note = Note(
        f"payment_{kind}_voided",
        detail + after,
        {"kind": kind, "object": existing.gateway_object_id},
    )
    if not existing.full:
        return ReversalDecision("void", 0, False, None, None, note, outcome)
    return ReversalDecision("void", 0, False, InvoiceStatus.PAID, REVERSED[kind], note, outcome)


def on_reversal(
    fact: PaymentFact,
    *,
    object_id: str,
    invoice_id: int | None,
    existing: Reversal | None,
    full: bool,
) -> ReversalDecision:
    """What a refund or dispute fact does to its record and to the invoice.

    Args:
        fact: A screened fact of kind refund or dispute.
        object_id: The refund's or dispute's own id (the payment's when it has none).
        invoice_id: The invoice of the payment, None before the payment is recorded.
        existing: The reversal recorded under the same gateway, kind and object id.
        full: `reversal_is_full` of the fact.
    """
    kind = fact.kind
    if existing is None and fact.amount_minor == 0:
        return ReversalDecision(
            "none", 0, False, None, None, None,
            Outcome("ignored", f"{kind} {object_id} moved no money: not recorded"),
        )  # fmt: skip
    if existing is None:
        write: Literal["insert", "update"] = "insert"
        amount, now_full = fact.amount_minor, full
    elif fact.amount_minor == 0 and existing.amount_minor > 0:
        return _void(existing, invoice_id)
    elif fact.amount_minor > existing.amount_minor or (full and not existing.full):
        # Refunds are cumulative (Stripe's amount_refunded): the amount only grows.
        write = "update"
        amount, now_full = max(fact.amount_minor, existing.amount_minor), full or existing.full
    else:
        return ReversalDecision(
            "none", existing.amount_minor, existing.full, None, None, None,
            Outcome("duplicate", f"{kind} {object_id} already recorded"),
        )  # fmt: skip
    if invoice_id is None:
        stored = Outcome("reversal_stored", f"{kind} before its payment: applied when it arrives")
        return ReversalDecision(write, amount, now_full, None, None, None, stored)
    what = "full" if full else "partial"
    note = Note(
        f"payment_{kind}",
        f"{what} {kind} {object_id} of payment {fact.gateway_payment_id}: "
        f"{fact.amount_minor} {fact.currency}",
        {"kind": kind, "object": object_id, "full": full},
    )
    outcome = Outcome(f"{kind}_{what}", f"{kind} {object_id} recorded ({what})")
    if not full:
        return ReversalDecision(write, amount, now_full, None, None, note, outcome)
    return ReversalDecision(
        write, amount, now_full, REVERSED[kind], InvoiceStatus.PAID, note, outcome
    )
