"""The ledger: apply one verified `PaymentFact` to our invoices, orders and runs, exactly once.

Gateway-neutral; runs inside the caller's transaction (the one that also marks the delivery
processed), so a crash leaves either nothing or everything. What a fact does is decided by
`money` (pure, table-tested; payments.md §6); this module is the shell around it:

```
paid,     lock the invoice (by a gateway object we created for it at checkout, else by our id
pending,  while it has none) ─► money.on_payment
failed,   paid and accepted: payments UNIQUE(gateway, id); the reversals recorded before it
underpaid ─► money.settle ─► the invoice (guarded: only while open), the activity, the order
          (lifecycle: paid) and the run; a guard that finds the invoice paid meanwhile
          answers `already_paid`
refund,   the payment (by id or alias) and its other refunds ─► money.reversal_is_full; the
dispute   recorded reversal, UNIQUE(gateway, kind, object id) ─► money.on_reversal ─► the
          reversal row, the activity, the invoice (guarded by its status);
          `reversals.ReversalPolicy` acts on the service after the commit
```
Our invoice id carried by a fact is only used as a hint when it is one our ids can be
(`invoice_hint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.billing import money
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.db import Database, schema, statements
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import Phase

__all__ = ["Applied", "apply_fact", "invoice_hint"]

_OPEN = sorted(money.OPEN)


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


def _applied(outcome: money.Outcome, invoice_id: int | None = None) -> Applied:
    return Applied(outcome.name, invoice_id, detail=outcome.detail)


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
    refused = money.screen(fact, livemode=livemode)
    if refused is not None:
        return _applied(refused)
    if fact.kind in ("refund", "dispute"):
        return await _reversal(conn, db, gateway, fact)
    invoice = await _locked_invoice(conn, db, gateway, fact)
    decision = money.on_payment(invoice, fact)
    if isinstance(decision, money.Outcome):
        return _applied(decision, None if invoice is None else invoice.id)
    return await _paid(conn, db, store, gateway, decision.invoice, fact, delivery_id)


async def _locked_invoice(
    conn: AsyncConnection, db: Database, gateway: str, fact: PaymentFact
) -> money.Invoice | None:
    """The invoice `fact` pays, locked (`FOR UPDATE` on PostgreSQL); see `_Statements`."""
    sql = db.prepared(_Statements)
    params: dict[str, Any] = {"p_gateway": gateway, "p_payment_id": fact.gateway_payment_id}
    hint = invoice_hint(fact.invoice_ref)
    query = sql.invoice_by_object
    if hint is not None:
        params["p_invoice_ref"] = hint
        query = sql.invoice_by_object_or_hint
    row = (await conn.execute(query, params)).first()
    if row is None:
        return None
    return money.Invoice(
        id=row.id,
        order_id=row.order_id,
        status=schema.InvoiceStatus(row.status),
        amount_minor=row.amount_minor,
        currency=row.currency,
        gateway_ref=row.gateway_ref,
        by_attempt=bool(row.by_attempt),
    )


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


def _recorded(row: Any) -> money.Reversal:
    """A `money_reversals` row as the money rules see it."""
    kind: money.ReversalKind = "dispute" if row.kind == "dispute" else "refund"
    return money.Reversal(
        id=row.id,
        kind=kind,
        gateway_object_id=row.gateway_object_id,
        amount_minor=row.amount_minor,
        full=bool(row.full),
        applied=row.applied,
    )


async def _note(conn: AsyncConnection, order_id: int, note: money.Note, **data: object) -> None:
    await activity.record(
        conn, order_id, note.event, note.message, phase=Phase.BILLING, data={**note.data, **data}
    )


async def _paid(
    conn: AsyncConnection,
    db: Database,
    store: RunStore,
    gateway: str,
    invoice: money.Invoice,
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
    early = [
        _recorded(r)
        for r in await conn.execute(sql.reversals_of, {"p_gateway": gateway, "p_payment_ids": ids})
    ]
    settlement = money.settle(invoice, fact, gateway, early)
    paid = await conn.execute(
        sql.invoice_paid,
        {
            "p_invoice_id": invoice.id,
            "p_status": settlement.status,
            "p_gateway": gateway,
            "p_payment_id": fact.gateway_payment_id,
        },
    )
    if payment.rowcount == 0 or paid.rowcount == 0:
        return _applied(money.ALREADY_PAID, invoice.id)
    if early:  # refunds or disputes that arrived before this payment: link them now
        await conn.execute(
            sql.link_reversals,
            {"p_reversal_ids": [r.id for r in early], "p_invoice_id": invoice.id},
        )
    if settlement.reversed_by is not None:
        await conn.execute(
            sql.reversal_never_provisioned, {"p_reversal_id": settlement.reversed_by.id}
        )
    if not settlement.provision:
        for note in settlement.notes:
            await _note(conn, invoice.order_id, note, delivery_id=delivery_id)
        return _applied(settlement.outcome, invoice.id)
    # One event, one row: a provisioning settlement's one note (`invoice_paid`) carries the
    # order's move to provisioning_pending.
    (paid_note,) = settlement.notes
    paid_entry = lifecycle.Entry(
        invoice.order_id,
        paid_note.event,
        paid_note.message,
        {**paid_note.data, "delivery_id": delivery_id},
        lifecycle.Source(phase=Phase.BILLING),
    )
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
    return Applied(settlement.outcome.name, invoice.id, run_id)


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


async def _reversal(
    conn: AsyncConnection, db: Database, gateway: str, fact: PaymentFact
) -> Applied:
    reversals, invoices = schema.money_reversals, schema.invoices
    object_id = fact.gateway_object_id or fact.gateway_payment_id
    payments = schema.payments
    row = (
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
    payment = None if row is None else money.Payment(row.invoice_id, row.amount_minor)
    others = 0
    if row is not None and fact.kind == "refund":
        others = await _other_refunds(conn, gateway, row, object_id)
    recorded = (
        await conn.execute(
            sa.select(reversals).where(
                reversals.c.gateway == gateway,
                reversals.c.kind == fact.kind,
                reversals.c.gateway_object_id == object_id,
            )
        )
    ).first()
    invoice_id = None if payment is None else payment.invoice_id
    decision = money.on_reversal(
        fact,
        object_id=object_id,
        invoice_id=invoice_id,
        existing=None if recorded is None else _recorded(recorded),
        full=money.reversal_is_full(fact, payment, others),
    )
    if decision.write == "insert":
        await conn.execute(
            db.insert_ignore(reversals).values(
                gateway=gateway,
                kind=fact.kind,
                gateway_object_id=object_id,
                gateway_payment_id=fact.gateway_payment_id,
                invoice_id=invoice_id,
                amount_minor=decision.amount_minor,
                currency=fact.currency,
                full=decision.full,
            )
        )
    elif decision.write in ("update", "void") and recorded is not None:
        linked = {"invoice_id": invoice_id} if decision.write == "update" else {}
        await conn.execute(
            reversals.update()
            .where(reversals.c.id == recorded.id)
            .values(
                amount_minor=decision.amount_minor,
                full=decision.full,
                updated_at=db.now(),
                **linked,
            )
        )
    if decision.note is not None and invoice_id is not None:
        order_id = (
            await conn.execute(sa.select(invoices.c.order_id).where(invoices.c.id == invoice_id))
        ).scalar_one()
        await _note(conn, order_id, decision.note)
    if decision.invoice_status is not None:
        await conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id, invoices.c.status == decision.status_from)
            .values(status=decision.invoice_status)
        )
    return _applied(decision.outcome, invoice_id)
