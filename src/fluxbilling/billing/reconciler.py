"""The reconciler: never rely on webhooks alone (payments.md §6.14, Kill Bill's Janitor).

One pass (`Reconciler.run_once`), every `reconcile_interval` seconds in each worker process:

1. **open invoices** with a checkout attempt older than `after` (and not checked for as
   long), and **recently paid** ones once a day for 60 days (lost refund and chargeback
   webhooks): fetch each attempt's object from its gateway and apply the facts through the
   same `ledger.apply_fact` the webhooks use. Money news found this way is a *correction*
   (a webhook was lost or mis-handled): it is counted and gets an activity row;
2. **stuck deliveries**: deliveries stored but never processed (a crash between storing and
   processing) or `deferred` (the gateway's API could not be asked) are processed again
   from their stored raw body, as received (signatures are checked against the time they
   arrived);
3. **reversal policy**: full refunds and disputes not yet acted on (a crash after the
   commit) are applied;
4. **retention**: deliveries nobody vouched for (refused, or naming an object nobody knows)
   are deleted after 30 days (anyone can send them); every authentic delivery is kept;
5. **holds**: checkout holds past their deadline give their capacity and address back
   (`allocation.holds.sweep`, a bounded batch per pass, safe in many workers at once).

Each stage runs even when another one failed, and within a stage one invoice, delivery or
reversal that fails — whatever it raises — is counted (`metrics.RECONCILER_FAILURES`),
reported and skipped: a poisoned row never stops a pass. A delivery that keeps failing is
quarantined after its attempts (`deliveries.Limits`); the sweep leaves it to the operator.

Everything is idempotent (unique keys, guarded transitions), so two workers running a pass
at the same time only do the work twice, never the effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors, metrics
from fluxbilling.allocation import holds
from fluxbilling.billing import deliveries, ledger, money
from fluxbilling.billing.gateway import Gateway
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.billing.webhooks import GatewayEndpoint
from fluxbilling.db import Database, is_transient, schema
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders.pipeline import Phase

__all__ = ["CORRECTIONS", "Reconciler", "Report"]

log = logging.getLogger(__name__)

# Classified failures of one invoice: reported, retried next pass as they are.
_EXPECTED = (errors.UpstreamError, errors.InvalidSettings, errors.InvalidWebhook)
#: Outcomes that mean a fetch found money news no webhook had brought.
CORRECTIONS = frozenset(
    {
        "processed",
        "reversed",
        "refund_full",
        "refund_partial",
        "dispute_full",
        "dispute_partial",
        "refund_voided",
        "dispute_voided",
    }
)
_FOUND = {"processed": "the payment", "reversed": "the payment (already reversed)"}
_BATCH = 100


@dataclass
class Report:
    """What one pass did."""

    checked: int = 0
    corrected: list[int] = field(default_factory=list)
    deliveries: int = 0
    errors: list[str] = field(default_factory=list)
    reversals: int = 0
    pruned: int = 0
    holds_expired: int = 0

    def to_dict(self) -> dict[str, Any]:
        """For the API and the CLI."""
        return {
            "checked": self.checked,
            "corrected": self.corrected,
            "deliveries": self.deliveries,
            "reversals": self.reversals,
            "pruned": self.pruned,
            "holds_expired": self.holds_expired,
            "errors": self.errors,
        }


class Reconciler:
    """Re-checks open invoices and stuck deliveries against the gateways.

    Args:
        db: the database.
        store: the run store (enqueue).
        gateways: the configured gateways by name.
        policy: the refund/chargeback policy.
        after: seconds an attempt or delivery is left to its webhook before it is re-checked.
        paid_recheck: seconds between re-checks of a paid invoice (lost refund or chargeback
            webhooks), and since payment before the first one.
        paid_window: how long after payment an invoice is re-checked (refunds and disputes
            come within weeks).
        invalid_retention: how long deliveries nobody vouched for are kept.
        limits: the bounds of delivery storage and attempts (`deliveries.Limits`).
    """

    def __init__(
        self,
        db: Database,
        store: RunStore,
        gateways: Mapping[str, Gateway],
        policy: ReversalPolicy,
        *,
        after: float = 600.0,
        paid_recheck: float = 86400.0,
        paid_window: float = 60 * 86400.0,
        invalid_retention: float = 30 * 86400.0,
        limits: deliveries.Limits | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.gateways = gateways
        self.policy = policy
        self.after = after
        self.paid_recheck = paid_recheck
        self.paid_window = paid_window
        self.invalid_retention = invalid_retention
        self.limits = limits or deliveries.Limits()

    async def run_once(self) -> Report:
        """One pass (see the module docstring); no stage's failure stops the others."""
        report = Report()

        async def reversals() -> None:
            report.reversals = len(await self.policy.apply_pending())

        async def prune() -> None:
            report.pruned = await self._prune_unverified()

        async def expire_holds() -> None:
            report.holds_expired = await holds.sweep(self.db, limit=_BATCH)

        await self._stage(report, "invoices", lambda: self._sync_due_invoices(report))
        await self._stage(report, "deliveries", lambda: self._sweep_deliveries(report))
        await self._stage(report, "prune", prune)
        await self._stage(report, "reversals", reversals)
        await self._stage(report, "holds", expire_holds)
        if report.corrected or report.errors:
            log.warning(
                "reconciler: corrected invoices %s; errors %s", report.corrected, report.errors
            )
        return report

    async def _stage(self, report: Report, name: str, run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except Exception as exc:  # the next stage runs all the same
            metrics.RECONCILER_FAILURES.labels(f"stage_{name}").inc()
            log.exception("reconciler: stage %s failed", name)
            report.errors.append(f"{name}: {_describe(exc)}")

    async def _sync_due_invoices(self, report: Report) -> None:
        for invoice_id in await self._due_invoices():
            try:
                applied = await self.sync_invoice(invoice_id)
            except _EXPECTED as exc:
                report.errors.append(f"invoice {invoice_id}: {exc.message}")
                continue
            except Exception as exc:  # one poisoned invoice never stops the pass
                metrics.RECONCILER_FAILURES.labels("invoice").inc()
                log.exception("reconciler: invoice %s failed", invoice_id)
                report.errors.append(f"invoice {invoice_id}: {_describe(exc)}")
                await self._checked(invoice_id)
                continue
            report.checked += 1
            if any(a.outcome in CORRECTIONS for a in applied):
                report.corrected.append(invoice_id)

    async def _checked(self, invoice_id: int) -> None:
        """Mark a failing invoice's attempts checked: it waits `after` like the others
        instead of heading every batch."""
        attempts = schema.payment_attempts
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    attempts.update()
                    .where(attempts.c.invoice_id == invoice_id)
                    .values(checked_at=self.db.now())
                )
        except sa.exc.SQLAlchemyError:
            log.exception("reconciler: could not mark invoice %s checked", invoice_id)

    async def sync_invoice(self, invoice_id: int) -> list[ledger.Applied]:
        """Fetch every attempt of one invoice from its gateway and apply what it says.

        Raises:
            errors.NotFound: no such invoice.
            errors.UpstreamError: a gateway could not be asked (nothing half-applied).
        """
        attempts = await self._attempts(invoice_id)
        results: list[ledger.Applied] = []
        for gateway_name, ref in attempts:
            gateway = self.gateways.get(gateway_name)
            if gateway is None:
                continue  # credentials removed since: nothing to ask
            facts = await gateway.fetch(ref)
            corrected = 0
            async with self.db.begin() as conn:
                for fact in facts or ():
                    result = await ledger.apply_fact(
                        conn,
                        db=self.db,
                        store=self.store,
                        gateway=gateway_name,
                        fact=fact,
                        livemode=gateway.livemode,
                    )
                    results.append(result)
                    if result.outcome in CORRECTIONS:
                        corrected += 1
                        await self._correction(conn, invoice_id, gateway_name, ref, result)
                await conn.execute(
                    schema.payment_attempts.update()
                    .where(
                        schema.payment_attempts.c.gateway == gateway_name,
                        schema.payment_attempts.c.gateway_ref == ref,
                    )
                    .values(checked_at=self.db.now())
                )
            metrics.RECONCILER_CORRECTIONS.labels(gateway_name).inc(corrected)
        if any(r.outcome in ("refund_full", "dispute_full") for r in results):
            await self.policy.apply_pending()
        return results

    async def _correction(
        self, conn: Any, invoice_id: int, gateway: str, ref: str, result: ledger.Applied
    ) -> None:
        order_id = (
            await conn.execute(
                sa.select(schema.invoices.c.order_id).where(schema.invoices.c.id == invoice_id)
            )
        ).scalar_one()
        await activity.record(
            conn,
            order_id,
            "reconciled",
            f"{_FOUND.get(result.outcome, result.outcome)} of {ref} found at {gateway} by the "
            "reconciler: its webhook never arrived",
            phase=Phase.BILLING,
            data={"gateway": gateway, "gateway_ref": ref, "outcome": result.outcome},
        )

    async def _attempts(self, invoice_id: int) -> list[tuple[str, str]]:
        table = schema.payment_attempts
        async with self.db.connect() as conn:
            exists = (
                await conn.execute(
                    sa.select(schema.invoices.c.id).where(schema.invoices.c.id == invoice_id)
                )
            ).first()
            if exists is None:
                raise errors.NotFound(f"invoice {invoice_id} does not exist", invoice_id=invoice_id)
            rows = (
                await conn.execute(
                    sa.select(table.c.gateway, table.c.gateway_ref)
                    .where(table.c.invoice_id == invoice_id)
                    .order_by(table.c.id.desc())
                )
            ).all()
        return [(row.gateway, row.gateway_ref) for row in rows]

    async def _due_invoices(self) -> list[int]:
        inv, table = schema.invoices, schema.payment_attempts
        cutoff = self.db.now(-self.after)
        recheck = self.db.now(-self.paid_recheck)
        open_due = sa.and_(
            inv.c.status.in_(sorted(money.OPEN)),
            table.c.created_at <= cutoff,
            sa.or_(table.c.checked_at.is_(None), table.c.checked_at <= cutoff),
        )
        # Paid recently: a refund or chargeback whose webhook was lost (checked far less often).
        paid_due = sa.and_(
            inv.c.status == schema.InvoiceStatus.PAID,
            inv.c.paid_at >= self.db.now(-self.paid_window),
            sa.or_(table.c.checked_at.is_(None), table.c.checked_at <= recheck),
            inv.c.paid_at <= recheck,
        )
        query = (
            sa.select(inv.c.id)
            .join(table, table.c.invoice_id == inv.c.id)
            .where(sa.or_(open_due, paid_due))
            .group_by(inv.c.id)
            .order_by(inv.c.id)
            .limit(_BATCH)
        )
        async with self.db.connect() as conn:
            return [row.id for row in (await conn.execute(query)).all()]

    async def _sweep_deliveries(self, report: Report) -> None:
        table = schema.webhook_events
        waiting = sa.or_(
            table.c.outcome == "deferred",
            sa.and_(table.c.outcome.is_(None), table.c.verification == "pending"),
        )
        # Rows that used their attempts before quarantine existed (or whose last attempt
        # could not record it) are quarantined here: a terminal state, shown with its reason.
        async with self.db.begin() as conn:
            await conn.execute(
                table.update()
                .where(waiting, table.c.attempts >= self.limits.deferred_attempts)
                .values(outcome="quarantined")
            )
        query = (
            sa.select(table)
            .where(
                waiting,
                table.c.received_at <= self.db.now(-self.after),
                table.c.attempts < self.limits.deferred_attempts,
            )
            .order_by(table.c.id)
            .limit(_BATCH)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            gateway = self.gateways.get(row.gateway)
            if gateway is None:
                continue
            endpoint = GatewayEndpoint(
                self.db, self.store, gateway, policy=self.policy, limits=self.limits
            )
            try:
                result = await endpoint.process(
                    row.id, bytes(row.body), row.headers, now=row.received_at.timestamp()
                )
            except errors.InvalidWebhook as exc:
                report.errors.append(f"delivery {row.id}: {exc.message}")
                continue
            except Exception as exc:  # one poisoned delivery never stops the sweep
                # The endpoint counted the attempt (and quarantines after the last one).
                metrics.RECONCILER_FAILURES.labels("delivery").inc()
                log.exception("reconciler: delivery %s failed", row.id)
                report.errors.append(f"delivery {row.id}: {_describe(exc)}")
                continue
            report.deliveries += 1
            if result.outcome in ("deferred", "quarantined"):
                report.errors.append(f"delivery {row.id}: still {result.outcome}: {result.detail}")

    async def _prune_unverified(self) -> int:
        """Forget deliveries nobody vouched for after `invalid_retention` (anyone can send
        them; authentic deliveries are kept)."""
        table = schema.webhook_events
        async with self.db.begin() as conn:
            result = await conn.execute(
                table.delete().where(
                    table.c.verification.in_(deliveries.UNVERIFIED),
                    table.c.received_at < self.db.now(-self.invalid_retention),
                )
            )
        return int(result.rowcount or 0)

    async def run_forever(self, stop: asyncio.Event, interval: float) -> None:
        """Pass after pass until `stop` is set; a failing pass is logged, never fatal."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # keep reconciling; the next pass retries
                if is_transient(exc):
                    log.warning("reconciler pass skipped: database unavailable (%s)", exc.orig)
                else:
                    log.exception("reconciler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def _describe(exc: Exception) -> str:
    """An exception for the pass's report: its class and its message's first line (a database
    error's next lines hold the statement and its parameters)."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"
