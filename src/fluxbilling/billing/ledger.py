"""The ledger: apply one verified `PaymentFact` to our invoices, orders and runs, exactly once.

Gateway-neutral; runs inside the caller's transaction (the one that also marks the delivery
processed), so a crash leaves either nothing or everything. The rules (payments.md §6):

```
paid      lock the invoice (by a gateway object we created for it at checkout, else by our id
          while it has none)
          check currency, amount (>= total), gateway object; payments UNIQUE(gateway, id)
          invoice unpaid/pending → paid; order awaiting_payment → provisioning_pending;
          enqueue the run — unless a full refund/dispute of this payment arrived first:
          then the invoice is `refunded`/`disputed` and nothing is provisioned
refund,   money_reversals UNIQUE(gateway, kind, object id), amount only grows (cumulative
dispute   refunds); full when it covers the payment: the invoice becomes refunded/disputed
          and `reversals.ReversalPolicy` acts on the service after the commit. Amount 0 for
          a recorded one (a Mollie refund that failed, a chargeback reversed) voids it: the
          invoice is paid again; a service the policy already suspended stays suspended
pending, failed, underpaid, ignored
          never change a paid invoice (a late `expired` cannot downgrade); recorded only
```
A fact that cannot be stored as it is (`facts.unstorable`: an amount out of range, say, in
a signed event) is `rejected` before anything is written; our invoice id carried by a fact
is only used as a hint when it is one our ids can be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.billing import facts
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.db import Database, schema, statements
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import Phase

__all__ = ["Applied", "apply_fact", "invoice_hint"]

_OPEN = ("unpaid", "pending")
_REVERSED = {"refund": "refunded", "dispute": "disputed"}


class _Statements:
    """The statements a payment runs, built once per database (`Database.prepared`).

    Building a Core statement and its cache key costs more than executing it (bench/README.md),
    and a paid delivery runs all of these.
    """

    def __init__(self, db: Database) -> None:
        inv, attempts = schema.invoices, schema.payment_attempts
        reversals, payments = schema.money_reversals, schema.payments
        payment_id = statements.param("p_payment_id", inv.c.gateway_ref)
        ours = (
            sa.select(attempts.c.invoice_id)
            .where(
                attempts.c.gateway == statements.param("p_gateway", attempts.c.gateway),
                attempts.c.gateway_ref == payment_id,
            )
            .scalar_subquery()
        )
        # Any checkout attempt of the invoice counts (the customer may pay an earlier one).
        by_object = sa.or_(inv.c.gateway_ref == payment_id, inv.c.id == ours)
        # Our own id is only a hint: it matches only invoices with no gateway object yet, and
        # only for an object no checkout of ours created (that one names its invoice).
        by_hint = sa.or_(
            by_object,
            sa.and_(
                inv.c.id == statements.param("p_invoice_ref", inv.c.id),
                inv.c.gateway_ref.is_(None),
                ours.is_(None),
            ),
        )

        def lock(condition: sa.ColumnElement[bool]) -> sa.Select[Any]:
            query = (
                sa.select(inv, (inv.c.id == ours).label("by_attempt"))
                .where(condition)
                .order_by(sa.case((inv.c.gateway_ref == payment_id, 0), else_=1))
                .limit(1)
            )
            return query if db.is_sqlite else query.with_for_update(of=inv)

        self.invoice_by_object = lock(by_object)
        self.invoice_by_object_or_hint = lock(by_hint)
        self.payment = db.insert_ignore(payments).values(
            invoice_id=statements.param("p_invoice_id", payments.c.invoice_id),
            gateway=statements.param("p_gateway", payments.c.gateway),
            gateway_payment_id=statements.param("p_payment_id", payments.c.gateway_payment_id),
            alias_id=statements.param("p_alias_id", payments.c.alias_id),
            amount_minor=statements.param("p_amount_minor", payments.c.amount_minor),
            currency=statements.param("p_currency", payments.c.currency),
        )
        self.reversals_of = sa.select(reversals).where(
            reversals.c.gateway == statements.param("p_gateway", reversals.c.gateway),
            reversals.c.gateway_payment_id.in_(
                statements.param("p_payment_ids", reversals.c.gateway_payment_id, expanding=True)
            ),
        )
        self.invoice_paid = (
            inv.update()
            .where(inv.c.id == statements.param("p_invoice_id", inv.c.id), inv.c.status.in_(_OPEN))
            .values(
                status=statements.param("p_status", inv.c.status),
                paid_at=db.now(),
                gateway=statements.param("p_gateway", inv.c.gateway),
                gateway_ref=statements.param("p_payment_id", inv.c.gateway_ref),
            )
        )
        self.link_reversals = (
            reversals.update()
            .where(
                reversals.c.id.in_(
                    statements.param("p_reversal_ids", reversals.c.id, expanding=True)
                )
            )
            .values(invoice_id=statements.param("p_invoice_id", reversals.c.invoice_id))
        )
        self.reversal_never_provisioned = (
            reversals.update()
            .where(reversals.c.id == statements.param("p_reversal_id", reversals.c.id))
            .values(full=True, applied="never provisioned")
        )


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a fact did (`outcome` is stored on the delivery)."""

    outcome: str
    invoice_id: int | None = None
    run_id: int | None = None
    detail: str = ""


async def apply_fact(
    conn: AsyncConnection,
    *,
    db: Database,
    store: RunStore,
    gateway: str,
    fact: PaymentFact,
    livemode: bool,
    delivery_id: int | None = None,
) -> Applied:
    """Apply `fact` (see the module docstring) in the caller's transaction."""
    if fact.kind == "ignored":
        return Applied("ignored", detail="nothing for us in this notification")
    problem = facts.unstorable(fact)
    if problem:
        return Applied("rejected", detail=f"{fact.kind}: {problem}; nothing recorded")
    if fact.livemode != livemode:
        mode = "live" if fact.livemode else "test"
        return Applied(
            "rejected", detail=f"livemode: a {mode}-mode object does not match this installation"
        )
    if fact.kind in ("refund", "dispute"):
        return await _reversal(conn, db, gateway, fact)
    invoice = await _locked_invoice(conn, db, gateway, fact)
    if invoice is None:
        return Applied("unknown_invoice", detail=f"no invoice matches {fact.invoice_ref!r}")
    if fact.kind != "paid":
        if invoice.status not in _OPEN:
            return Applied(
                "ignored", invoice.id, detail=f"{fact.kind} after {invoice.status}: no downgrade"
            )
        return Applied(fact.kind, invoice.id, detail=f"payment {fact.kind}; invoice stays open")
    problem = _mismatch(invoice, fact)
    if problem:
        return Applied("rejected", invoice.id, detail=problem)
    return await _paid(conn, db, store, gateway, invoice, fact, delivery_id)


async def _locked_invoice(
    conn: AsyncConnection, db: Database, gateway: str, fact: PaymentFact
) -> Any:
    """The invoice `fact` pays, locked (`FOR UPDATE` on PostgreSQL); see `_Statements`."""
    sql = db.prepared(_Statements)
    params: dict[str, Any] = {"p_gateway": gateway, "p_payment_id": fact.gateway_payment_id}
    hint = invoice_hint(fact.invoice_ref)
    if hint is not None:
        params["p_invoice_ref"] = hint
        return (await conn.execute(sql.invoice_by_object_or_hint, params)).first()
    return (await conn.execute(sql.invoice_by_object, params)).first()


def invoice_hint(invoice_ref: str | None) -> int | None:
    """Our invoice id in a fact's reference, when it can be one (ASCII digits, within BIGINT).

    Example:
        >>> invoice_hint("42"), invoice_hint("9" * 30), invoice_hint("²"), invoice_hint(None)
        (42, None, None, None)
    """
    if not invoice_ref or not (invoice_ref.isascii() and invoice_ref.isdigit()):
        return None
    if len(invoice_ref) > 18:  # 10**18 - 1 < 2**63 - 1: beyond it, no id of ours
        return None
    return int(invoice_ref)


def _mismatch(invoice: Any, fact: PaymentFact) -> str:
    if fact.currency != invoice.currency:
        return f"currency {fact.currency} does not match the invoice's {invoice.currency}"
    if fact.amount_minor < invoice.amount_minor:
        return f"underpaid: {fact.amount_minor} < {invoice.amount_minor} {invoice.currency}"
    if invoice.gateway_ref not in (None, fact.gateway_payment_id) and not invoice.by_attempt:
        return "the payment object is not the one created for this invoice"
    return ""


async def _paid(
    conn: AsyncConnection,
    db: Database,
    store: RunStore,
    gateway: str,
    invoice: Any,
    fact: PaymentFact,
    delivery_id: int | None,
) -> Applied:
    sql = db.prepared(_Statements)
    payment = await conn.execute(
        sql.payment,
        {
            "p_invoice_id": invoice.id,
            "p_gateway": gateway,
            "p_payment_id": fact.gateway_payment_id,
            "p_alias_id": fact.alias_id or None,
            "p_amount_minor": fact.amount_minor,
            "p_currency": fact.currency,
        },
    )
    # Refunds and disputes already recorded for this payment (by its id or its alias).
    ids = [fact.gateway_payment_id, *([fact.alias_id] if fact.alias_id else [])]
    early = (
        await conn.execute(sql.reversals_of, {"p_gateway": gateway, "p_payment_ids": ids})
    ).all()
    reversed_by = next(
        (r for r in early if r.kind == "dispute" or r.amount_minor >= fact.amount_minor), None
    )
    paid = await conn.execute(
        sql.invoice_paid,
        {
            "p_invoice_id": invoice.id,
            "p_status": "paid" if reversed_by is None else _REVERSED[reversed_by.kind],
            "p_gateway": gateway,
            "p_payment_id": fact.gateway_payment_id,
        },
    )
    if payment.rowcount == 0 or paid.rowcount == 0:
        return Applied("already_paid", invoice.id, detail="invoice was already paid")
    if early:  # refunds or disputes that arrived before this payment: link them now
        await conn.execute(
            sql.link_reversals,
            {"p_reversal_ids": [r.id for r in early], "p_invoice_id": invoice.id},
        )
    data = {"payment": fact.gateway_payment_id, "delivery_id": delivery_id}
    # One event, one row: the order's move to provisioning_pending is recorded on it.
    paid_entry = lifecycle.Entry(
        invoice.order_id,
        "invoice_paid",
        f"invoice {invoice.id} paid via {gateway} ({fact.amount_minor} {fact.currency})",
        data,
        lifecycle.Source(phase=Phase.BILLING),
    )
    if reversed_by is not None:
        await lifecycle.transition(db, conn, paid_entry)
        await conn.execute(sql.reversal_never_provisioned, {"p_reversal_id": reversed_by.id})
        await activity.record(
            conn,
            invoice.order_id,
            "payment_reversed_before_paid",
            f"{reversed_by.kind} {reversed_by.gateway_object_id} arrived before the payment: "
            "nothing is provisioned",
            phase=Phase.BILLING,
            data=data,
        )
        return Applied("reversed", invoice.id, detail=f"already {reversed_by.kind}ed")
    try:
        await lifecycle.transition(
            db, conn, paid_entry, lifecycle.order(invoice.order_id, lifecycle.OrderEvent.PAID)
        )
    except errors.Conflict:  # IllegalTransition included: the order is past awaiting payment
        await lifecycle.transition(db, conn, paid_entry)  # paid, but nothing moved
        return Applied("paid_no_order", invoice.id, detail="order was not awaiting payment")
    run_id = await store.enqueue(
        conn,
        invoice.order_id,
        phase=Phase.ALLOCATION,
        completed={
            Phase.BILLING: {
                "invoice_id": invoice.id,
                "gateway": gateway,
                "payment": fact.gateway_payment_id,
                "amount_minor": fact.amount_minor,
                "currency": fact.currency,
            }
        },
    )
    return Applied("processed", invoice.id, run_id)


async def _other_refunds(conn: AsyncConnection, gateway: str, payment: Any, object_id: str) -> int:
    """What the payment's other refunds returned (Mollie and PayPal: one object per refund;
    Stripe's charge and CoinGate's order carry one cumulative amount)."""
    reversals = schema.money_reversals
    ids = [payment.gateway_payment_id, *([payment.alias_id] if payment.alias_id else [])]
    total = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(reversals.c.amount_minor), 0)).where(
                reversals.c.gateway == gateway,
                reversals.c.kind == "refund",
                reversals.c.gateway_payment_id.in_(ids),
                reversals.c.gateway_object_id != object_id,
            )
        )
    ).scalar_one()
    return int(total)


async def _void(
    conn: AsyncConnection, db: Database, existing: Any, invoice_id: int | None
) -> Applied:
    """A refund that failed or was canceled, a chargeback reversed (Mollie): no money left."""
    reversals = schema.money_reversals
    await conn.execute(
        reversals.update()
        .where(reversals.c.id == existing.id)
        .values(amount_minor=0, full=False, updated_at=db.now())
    )
    kind = existing.kind
    detail = f"{kind} {existing.gateway_object_id} voided: the money did not leave after all"
    if invoice_id is None:
        return Applied(f"{kind}_voided", detail=detail)
    invoice = (
        await conn.execute(sa.select(schema.invoices).where(schema.invoices.c.id == invoice_id))
    ).one()
    if existing.full:
        await conn.execute(
            schema.invoices.update()
            .where(schema.invoices.c.id == invoice_id, schema.invoices.c.status == _REVERSED[kind])
            .values(status="paid")
        )
    after = (
        f"; the service stays as the policy left it ({existing.applied}): undo by hand"
        if existing.applied
        else ""
    )
    await activity.record(
        conn,
        invoice.order_id,
        f"payment_{kind}_voided",
        detail + after,
        phase=Phase.BILLING,
        data={"kind": kind, "object": existing.gateway_object_id},
    )
    return Applied(f"{kind}_voided", invoice_id, detail=detail)


async def _reversal(
    conn: AsyncConnection, db: Database, gateway: str, fact: PaymentFact
) -> Applied:
    reversals = schema.money_reversals
    object_id = fact.gateway_object_id or fact.gateway_payment_id
    payments = schema.payments
    payment = (
        await conn.execute(
            sa.select(payments).where(
                payments.c.gateway == gateway,
                sa.or_(
                    payments.c.gateway_payment_id == fact.gateway_payment_id,
                    payments.c.alias_id == fact.gateway_payment_id,
                ),
            )
        )
    ).first()
    invoice_id = None if payment is None else payment.invoice_id
    full = payment is not None and (
        fact.kind == "dispute"
        or fact.amount_minor + await _other_refunds(conn, gateway, payment, object_id)
        >= payment.amount_minor
    )
    existing = (
        await conn.execute(
            sa.select(reversals).where(
                reversals.c.gateway == gateway,
                reversals.c.kind == fact.kind,
                reversals.c.gateway_object_id == object_id,
            )
        )
    ).first()
    if existing is None and fact.amount_minor == 0:
        return Applied(
            "ignored", invoice_id, detail=f"{fact.kind} {object_id} moved no money: not recorded"
        )
    if existing is None:
        await conn.execute(
            db.insert_ignore(reversals).values(
                gateway=gateway,
                kind=fact.kind,
                gateway_object_id=object_id,
                gateway_payment_id=fact.gateway_payment_id,
                invoice_id=invoice_id,
                amount_minor=fact.amount_minor,
                currency=fact.currency,
                full=full,
            )
        )
    elif fact.amount_minor == 0 and existing.amount_minor > 0:
        return await _void(conn, db, existing, invoice_id)
    elif fact.amount_minor > existing.amount_minor or (full and not existing.full):
        # Refunds are cumulative (Stripe's amount_refunded): the amount only grows.
        await conn.execute(
            reversals.update()
            .where(reversals.c.id == existing.id)
            .values(
                amount_minor=max(fact.amount_minor, existing.amount_minor),
                full=full or existing.full,
                invoice_id=invoice_id,
                updated_at=db.now(),
            )
        )
    else:
        return Applied("duplicate", invoice_id, detail=f"{fact.kind} {object_id} already recorded")
    if invoice_id is None:
        return Applied(
            "reversal_stored", detail=f"{fact.kind} before its payment: applied when it arrives"
        )
    invoice = (
        await conn.execute(sa.select(schema.invoices).where(schema.invoices.c.id == invoice_id))
    ).one()
    what = "full" if full else "partial"
    await activity.record(
        conn,
        invoice.order_id,
        f"payment_{fact.kind}",
        f"{what} {fact.kind} {object_id} of payment {fact.gateway_payment_id}: "
        f"{fact.amount_minor} {fact.currency}",
        phase=Phase.BILLING,
        data={"kind": fact.kind, "object": object_id, "full": full},
    )
    if full:
        await conn.execute(
            schema.invoices.update()
            .where(schema.invoices.c.id == invoice_id, schema.invoices.c.status == "paid")
            .values(status=_REVERSED[fact.kind])
        )
    return Applied(
        f"{fact.kind}_{what}", invoice_id, detail=f"{fact.kind} {object_id} recorded ({what})"
    )
