"""What a payment fact or a reversal does to an invoice: every row of `billing.money`'s table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fluxbilling.billing import money
from fluxbilling.billing.facts import MAX_AMOUNT_MINOR, PaymentFact
from fluxbilling.billing.money import (
    Invoice,
    Note,
    Outcome,
    Pay,
    Payment,
    Reversal,
    ReversalDecision,
)
from fluxbilling.db.schema import InvoiceStatus

UNPAID, PENDING, PAID = InvoiceStatus.UNPAID, InvoiceStatus.PENDING, InvoiceStatus.PAID
REFUNDED, DISPUTED = InvoiceStatus.REFUNDED, InvoiceStatus.DISPUTED

INVOICE = Invoice(id=7, order_id=3, status=UNPAID, amount_minor=1000, currency="EUR")
PAYMENT = PaymentFact("paid", "pi_1", "7", 1000, "EUR", False, "pi_1")
REFUND = PaymentFact("refund", "pi_1", "7", 300, "EUR", False, "re_1")
DISPUTE = PaymentFact("dispute", "pi_1", "7", 1000, "EUR", False, "dp_1")


def test_invoice_statuses_are_the_stored_strings() -> None:
    assert [s.value for s in InvoiceStatus] == ["unpaid", "pending", "paid", "refunded", "disputed"]
    assert {"unpaid", "pending"} == money.OPEN
    assert money.REVERSED == {"refund": "refunded", "dispute": "disputed"}


# --- screen: before any lookup ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "livemode", "expected"),
    [
        (PAYMENT, False, None),
        (
            replace(PAYMENT, kind="ignored"),
            False,
            Outcome("ignored", "nothing for us in this notification"),
        ),
        (
            replace(PAYMENT, amount_minor=MAX_AMOUNT_MINOR + 1),
            False,
            Outcome(
                "rejected",
                f"paid: amount out of range: more than {MAX_AMOUNT_MINOR} minor units; nothing recorded",
            ),
        ),
        (
            replace(PAYMENT, livemode=True),
            False,
            Outcome("rejected", "livemode: a live-mode object does not match this installation"),
        ),
        (
            PAYMENT,
            True,
            Outcome("rejected", "livemode: a test-mode object does not match this installation"),
        ),
        # An ignored fact is not checked further: its amount or mode does not matter.
        (
            replace(PAYMENT, kind="ignored", livemode=True),
            False,
            Outcome("ignored", "nothing for us in this notification"),
        ),
    ],
    ids=["ok", "ignored", "unstorable", "live-in-test", "test-in-live", "ignored-first"],
)
def test_screen(fact: PaymentFact, livemode: bool, expected: Outcome | None) -> None:
    assert money.screen(fact, livemode=livemode) == expected


# --- on_payment: paid, pending, failed, underpaid --------------------------------------


def paying(**changes: object) -> PaymentFact:
    return replace(PAYMENT, **changes)  # type: ignore[arg-type]


def invoice(**changes: object) -> Invoice:
    return replace(INVOICE, **changes)  # type: ignore[arg-type]


OURS = Outcome("rejected", "the payment object is not the one created for this invoice")
CURRENCY = Outcome("rejected", "currency USD does not match the invoice's EUR")


@pytest.mark.parametrize(
    ("invoice", "fact", "expected"),
    [
        (None, PAYMENT, Outcome("unknown_invoice", "no invoice matches '7'")),
        (None, paying(kind="failed", invoice_ref=None), Outcome("unknown_invoice", "no invoice matches None")),
        # Not (yet) paid: recorded, the invoice stays open; a closed one is never downgraded.
        (INVOICE, paying(kind="pending"), Outcome("pending", "payment pending; invoice stays open")),
        (invoice(status=PENDING), paying(kind="failed"), Outcome("failed", "payment failed; invoice stays open")),
        (INVOICE, paying(kind="underpaid"), Outcome("underpaid", "payment underpaid; invoice stays open")),
        (invoice(status=PAID), paying(kind="failed"), Outcome("ignored", "failed after paid: no downgrade")),
        (invoice(status=REFUNDED), paying(kind="pending"), Outcome("ignored", "pending after refunded: no downgrade")),
        (invoice(status=DISPUTED), paying(kind="underpaid"),
         Outcome("ignored", "underpaid after disputed: no downgrade")),
        # Paid: the exact amount or more, in the invoice's currency, by an object of ours.
        (INVOICE, PAYMENT, Pay(INVOICE)),
        (invoice(status=PENDING), PAYMENT, Pay(invoice(status=PENDING))),
        (INVOICE, paying(amount_minor=1500), Pay(INVOICE)),
        (INVOICE, paying(amount_minor=999), Outcome("rejected", "underpaid: 999 < 1000 EUR")),
        (INVOICE, paying(currency="USD"), CURRENCY),
        (INVOICE, paying(currency="USD", amount_minor=1), CURRENCY),
        (invoice(gateway_ref="pi_other"), PAYMENT, OURS),
        (invoice(gateway_ref="pi_other", by_attempt=True), PAYMENT,
         Pay(invoice(gateway_ref="pi_other", by_attempt=True))),
        (invoice(gateway_ref="pi_1"), PAYMENT, Pay(invoice(gateway_ref="pi_1"))),
        # Paid again (a duplicate, or a second payment): accepted here; the ledger's guarded
        # update finds the invoice closed and answers already_paid.
        (invoice(status=PAID), PAYMENT, Pay(invoice(status=PAID))),
    ],
    ids=[
        "unknown", "unknown-without-ref", "pending", "failed-while-pending", "underpaid-fact",
        "failed-after-paid", "pending-after-refund", "underpaid-after-dispute", "exact",
        "exact-while-pending", "overpaid", "underpaid-amount", "wrong-currency",
        "currency-before-amount", "another-object", "an-earlier-attempt", "same-object", "paid-again",
    ],
)  # fmt: skip
def test_on_payment(invoice: Invoice | None, fact: PaymentFact, expected: Outcome | Pay) -> None:
    assert money.on_payment(invoice, fact) == expected


# --- settle: an accepted payment and the reversals that came before it -----------------


def early(kind: str, amount: int, rid: int = 1) -> Reversal:
    return Reversal(rid, "dispute" if kind == "dispute" else "refund", f"{kind}_{rid}", amount)


PAID_NOTE = Note("invoice_paid", "invoice 7 paid via stripe (1000 EUR)", {"payment": "pi_1"})


@pytest.mark.parametrize(
    ("earlier", "status", "reversed_by", "outcome"),
    [
        ([], PAID, None, Outcome("processed")),
        ([early("refund", 300)], PAID, None, Outcome("processed")),
        ([early("refund", 1000)], REFUNDED, 0, Outcome("reversed", "already refunded")),
        ([early("refund", 1200)], REFUNDED, 0, Outcome("reversed", "already refunded")),
        ([early("dispute", 10)], DISPUTED, 0, Outcome("reversed", "already disputed")),
        (
            [early("refund", 300, 1), early("dispute", 1000, 2)],
            DISPUTED,
            1,
            Outcome("reversed", "already disputed"),
        ),
        (
            [early("refund", 1000, 1), early("dispute", 1000, 2)],
            REFUNDED,
            0,
            Outcome("reversed", "already refunded"),
        ),
    ],
    ids=[
        "nothing-before",
        "partial-refund-before",
        "full-refund-before",
        "refund-beyond-the-payment",
        "any-dispute-before",
        "the-first-full-one-counts",
        "in-the-order-given",
    ],
)
def test_settle(
    earlier: list[Reversal], status: InvoiceStatus, reversed_by: int | None, outcome: Outcome
) -> None:
    settlement = money.settle(INVOICE, PAYMENT, "stripe", earlier)
    assert settlement.status == status
    assert settlement.reversed_by == (None if reversed_by is None else earlier[reversed_by])
    assert settlement.outcome == outcome
    assert settlement.provision is (reversed_by is None)
    assert settlement.notes[0] == PAID_NOTE
    assert [n.event for n in settlement.notes[1:]] == (
        [] if reversed_by is None else ["payment_reversed_before_paid"]
    )


def test_a_payment_reversed_before_it_came_says_so() -> None:
    notes = money.settle(INVOICE, PAYMENT, "stripe", [early("dispute", 1000)]).notes
    assert notes[1] == Note(
        "payment_reversed_before_paid",
        "dispute dispute_1 arrived before the payment: nothing is provisioned",
        {"payment": "pi_1"},
    )


# --- reversal_is_full ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "payment", "others", "full"),
    [
        (REFUND, None, 0, False),
        (DISPUTE, None, 0, False),
        (DISPUTE, Payment(7, 1000), 0, True),
        (replace(DISPUTE, amount_minor=1), Payment(7, 1000), 0, True),
        (replace(REFUND, amount_minor=1000), Payment(7, 1000), 0, True),
        (replace(REFUND, amount_minor=999), Payment(7, 1000), 0, False),
        (REFUND, Payment(7, 1000), 700, True),
        (REFUND, Payment(7, 1000), 699, False),
    ],
    ids=[
        "refund-without-payment",
        "dispute-without-payment",
        "dispute",
        "small-dispute",
        "refund-of-all",
        "refund-of-less",
        "refunds-adding-up",
        "refunds-short-by-one",
    ],
)
def test_reversal_is_full(
    fact: PaymentFact, payment: Payment | None, others: int, full: bool
) -> None:
    assert money.reversal_is_full(fact, payment, others) is full


# --- on_reversal: refunds and disputes -------------------------------------------------

PARTIAL = Reversal(5, "refund", "re_1", 300)
WHOLE = Reversal(5, "refund", "re_1", 1000, full=True, applied="suspend")
VOIDED = Reversal(5, "refund", "re_1", 0)


def note(what: str, fact: PaymentFact, full: bool) -> Note:
    kind, obj = fact.kind, fact.gateway_object_id
    return Note(
        f"payment_{kind}",
        f"{what} {kind} {obj} of payment pi_1: {fact.amount_minor} EUR",
        {"kind": kind, "object": obj, "full": full},
    )


VOID_DETAIL = "refund re_1 voided: the money did not leave after all"
VOID_NOTE = Note("payment_refund_voided", VOID_DETAIL, {"kind": "refund", "object": "re_1"})
AFTER_POLICY = "; the service stays as the policy left it (suspend): undo by hand"
STORED = "before its payment: applied when it arrives"
R1000 = replace(REFUND, amount_minor=1000)
R500 = replace(REFUND, amount_minor=500)
R0 = replace(REFUND, amount_minor=0)


def written(
    write: str,
    amount: int,
    full: bool,
    outcome: Outcome,
    note: Note | None = None,
    **moves: InvoiceStatus,
) -> ReversalDecision:
    """A decision; ``moves`` is ``{"to": status, "from_": status}`` when the invoice moves."""
    return ReversalDecision(
        write,  # type: ignore[arg-type]
        amount,
        full,
        moves.get("to"),
        moves.get("from_"),
        note,
        outcome,
    )


def recorded(fact: PaymentFact, full: bool) -> tuple[Outcome, Note]:
    what = "full" if full else "partial"
    return Outcome(
        f"{fact.kind}_{what}", f"{fact.kind} {fact.gateway_object_id} recorded ({what})"
    ), note(what, fact, full)


DUPLICATE = Outcome("duplicate", "refund re_1 already recorded")


@pytest.mark.parametrize(
    ("fact", "invoice_id", "existing", "full", "expected"),
    [
        # New reversals.
        (R0, 7, None, False, written("none", 0, False, Outcome("ignored", "refund re_1 moved no money: not recorded"))),
        (REFUND, 7, None, False, written("insert", 300, False, *recorded(REFUND, False))),
        (R1000, 7, None, True, written("insert", 1000, True, *recorded(R1000, True), to=REFUNDED, from_=PAID)),
        (DISPUTE, 7, None, True, written("insert", 1000, True, *recorded(DISPUTE, True), to=DISPUTED, from_=PAID)),
        (REFUND, None, None, False, written("insert", 300, False, Outcome("reversal_stored", f"refund {STORED}"))),
        (DISPUTE, None, None, False, written("insert", 1000, False, Outcome("reversal_stored", f"dispute {STORED}"))),
        # Recorded ones: cumulative amounts only grow; becoming full counts too.
        (R500, 7, PARTIAL, False, written("update", 500, False, *recorded(R500, False))),
        (R1000, 7, PARTIAL, True, written("update", 1000, True, *recorded(R1000, True), to=REFUNDED, from_=PAID)),
        (REFUND, 7, PARTIAL, True, written("update", 300, True, *recorded(REFUND, True), to=REFUNDED, from_=PAID)),
        (R500, None, PARTIAL, False, written("update", 500, False, Outcome("reversal_stored", f"refund {STORED}"))),
        (REFUND, 7, PARTIAL, False, written("none", 300, False, DUPLICATE)),
        (replace(REFUND, amount_minor=200), 7, PARTIAL, False, written("none", 300, False, DUPLICATE)),
        (R1000, 7, WHOLE, True, written("none", 1000, True, DUPLICATE)),
        # Voided: the money did not leave (a Mollie refund failed, a chargeback reversed).
        (
            R0, 7, WHOLE, False,
            written(
                "void", 0, False, Outcome("refund_voided", VOID_DETAIL),
                replace(VOID_NOTE, message=VOID_DETAIL + AFTER_POLICY), to=PAID, from_=REFUNDED,
            ),
        ),
        (R0, 7, PARTIAL, False, written("void", 0, False, Outcome("refund_voided", VOID_DETAIL), VOID_NOTE)),
        (R0, None, WHOLE, False, written("void", 0, False, Outcome("refund_voided", VOID_DETAIL))),
        (R0, 7, VOIDED, False, written("none", 0, False, DUPLICATE)),
    ],
    ids=[
        "new-zero", "new-partial", "new-full", "new-dispute", "refund-before-payment",
        "dispute-before-payment", "grows", "grows-to-full", "becomes-full-by-other-refunds",
        "grows-before-payment", "same-again", "older-smaller-amount", "full-again",
        "void-full-after-policy", "void-partial", "void-before-payment", "voided-again",
    ],
)  # fmt: skip
def test_on_reversal(
    fact: PaymentFact,
    invoice_id: int | None,
    existing: Reversal | None,
    full: bool,
    expected: ReversalDecision,
) -> None:
    decision = money.on_reversal(
        fact,
        object_id=fact.gateway_object_id,
        invoice_id=invoice_id,
        existing=existing,
        full=full,
    )
    assert decision == expected


def test_a_voided_dispute_stays_voided() -> None:
    """A Mollie chargeback reversed is voided (amount 0); the next fetch of its payment lists it
    again with amount 0: a duplicate, not a new full dispute that disputes the invoice again."""
    voided = Reversal(5, "dispute", "chb_1", 0)
    fact = replace(DISPUTE, amount_minor=0, gateway_object_id="chb_1")
    full = money.reversal_is_full(fact, Payment(7, 1000), 0)
    decision = money.on_reversal(fact, object_id="chb_1", invoice_id=7, existing=voided, full=full)
    assert decision.outcome.name == "duplicate"
