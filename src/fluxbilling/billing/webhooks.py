"""Webhook ingestion for every gateway: screen, store, verify, dedupe, apply exactly once.

```
POST /webhooks/{gateway} ─► 0. the adapter screens it locally (`gateway.Gateway.screen`):
                                 refused ─► stored cut down (`deliveries`), 400
                                 waits for the gateway and too many wait already ─► 503,
                                 nothing stored
                            1. store raw delivery (own transaction; 5xx if this fails)
                            2. the gateway's adapter verifies it (`gateway.Gateway.verify`):
                                 invalid ─► row cut down, 400, nothing else
                                 authentic but unreadable ─► row kept, `rejected`, 200
                                 names an object nobody knows ─► row cut down, 200
                                 upstream unreachable (re-fetch) ─► row `deferred`, 503;
                                 the gateway retries and `reconciler.sweep_deliveries` too
                            3. one transaction:
                                 processed_events (gateway, event id / state key)
                                   ON CONFLICT → duplicate
                                 each fact through `ledger.apply_fact` (lock the invoice;
                                 amount, currency, mode, our gateway object; payments and
                                 reversals under unique keys; guarded transitions; enqueue)
                            4. full refunds and disputes: `ReversalPolicy` after the commit
```
A late "failed" never downgrades a paid invoice; a second event for the same payment hits
the payments key; a duplicate delivery hits the processed-events key; a repeated ping of an
unchanged Mollie payment or CoinGate order hits its state key.

An adapter is the first code to read an untrusted body, so whatever else it raises there
(``RecursionError`` from a deeply nested JSON, ``ValueError``, ``KeyError``, ``TypeError``…)
means "malformed": it becomes `errors.InvalidWebhook` here, at one boundary. Only our own
trouble (the database, the operating system) is not the sender's fault and stays an error;
a delivery whose processing keeps failing is quarantined (`deliveries`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors, metrics
from fluxbilling.billing import deliveries, ledger
from fluxbilling.billing.deliveries import column_text
from fluxbilling.billing.gateway import Attempt, Gateway, Verified
from fluxbilling.billing.gateways.stripe import StripeGateway
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.db import Database, schema, statements
from fluxbilling.engine.runs import RunStore

__all__ = ["GatewayEndpoint", "Ingested", "StripeEndpoint", "find_attempt", "malformed"]

log = logging.getLogger(__name__)
# Not the sender's fault: our database or machine is in trouble (5xx; the gateway retries).
_OUR_TROUBLE = (sa.exc.SQLAlchemyError, OSError, MemoryError)
# When one notification carries several facts (a Mollie payment with its refunds), the
# delivery's outcome is the most significant of theirs.
_SIGNIFICANCE = (
    "processed",
    "reversed",
    "rejected",
    "dispute_full",
    "refund_full",
    "dispute_partial",
    "refund_partial",
    "reversal_stored",
    "refund_voided",
    "dispute_voided",
    "unknown_invoice",
    "paid_no_order",
    "already_paid",
    "underpaid",
    "pending",
    "failed",
    "duplicate",
    "ignored",
)
_RANK = {outcome: i for i, outcome in enumerate(_SIGNIFICANCE)}


# The statements of every delivery, built once: constructing a Core statement and its cache
# key costs more than executing it (bench/README.md). Values are bound per call (`p_*`).
_events, _processed, _attempts = (
    schema.webhook_events,
    schema.processed_events,
    schema.payment_attempts,
)
_STORE_RAW = (
    _events.insert()
    .values(
        gateway=statements.param("p_gateway", _events.c.gateway),
        remote_addr=statements.param("p_remote_addr", _events.c.remote_addr),
        headers=statements.param("p_headers", _events.c.headers),
        body=statements.param("p_body", _events.c.body),
    )
    .returning(_events.c.id)
)
_MARK_PROCESSED = (
    _events.update()
    .where(_events.c.id == statements.param("p_delivery_id", _events.c.id))
    .values(
        verification="valid",
        outcome=statements.param("p_outcome", _events.c.outcome),
        error=statements.param("p_error", _events.c.error),
        event_id=statements.param("p_event_id", _events.c.event_id),
        event_type=statements.param("p_event_type", _events.c.event_type),
        invoice_id=statements.param("p_invoice_id", _events.c.invoice_id),
        attempts=_events.c.attempts + 1,
    )
)
_ORIGINAL_DELIVERY = (
    sa.select(_events.c.id, _events.c.invoice_id)
    .join(_processed, _processed.c.delivery_id == _events.c.id)
    .where(
        _processed.c.gateway == statements.param("p_gateway", _processed.c.gateway),
        _processed.c.event_id == statements.param("p_event_id", _processed.c.event_id),
    )
)
_ATTEMPT = sa.select(_attempts).where(
    _attempts.c.gateway == statements.param("p_gateway", _attempts.c.gateway),
    _attempts.c.gateway_ref == statements.param("p_gateway_ref", _attempts.c.gateway_ref),
)


def _first_delivery(db: Database) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` differs by dialect: built per database (`db.prepared`)."""
    return db.insert_ignore(_processed).values(
        gateway=statements.param("p_gateway", _processed.c.gateway),
        event_id=statements.param("p_event_id", _processed.c.event_id),
        delivery_id=statements.param("p_delivery_id", _processed.c.delivery_id),
    )


@dataclass(frozen=True, slots=True)
class Ingested:
    """What happened to one delivery."""

    delivery_id: int
    outcome: str
    invoice_id: int | None = None
    run_id: int | None = None
    detail: str = ""


async def find_attempt(conn: AsyncConnection, gateway: str, gateway_ref: str) -> Attempt | None:
    """The checkout attempt that created `gateway_ref`, if it is one of ours."""
    row = (
        await conn.execute(_ATTEMPT, {"p_gateway": gateway, "p_gateway_ref": gateway_ref})
    ).first()
    if row is None:
        return None
    return Attempt(row.invoice_id, row.gateway, row.gateway_ref, row.callback_token_hash)


def malformed(exc: Exception) -> errors.InvalidWebhook:
    """What an unexpected exception raised on an untrusted body means: a malformed delivery.

    Example:
        >>> malformed(RecursionError("maximum recursion depth exceeded")).message
        'malformed: RecursionError while reading the notification'
    """
    name = type(exc).__name__
    return errors.InvalidWebhook(f"malformed: {name} while reading the notification", error=name)


class GatewayEndpoint:
    """Ingests the deliveries of one gateway account.

    Args:
        db: the database.
        store: the run store (enqueue).
        gateway: the gateway's adapter (verification, re-fetch).
        policy: acts on full refunds and disputes after each commit (none: recorded only).
        limits: the bounds of delivery storage and attempts (`deliveries.Limits`).
    """

    def __init__(
        self,
        db: Database,
        store: RunStore,
        gateway: Gateway,
        *,
        policy: ReversalPolicy | None = None,
        limits: deliveries.Limits | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.gateway = gateway
        self.policy = policy
        self.deliveries = deliveries.DeliveryStore(db, limits or deliveries.Limits())

    @property
    def name(self) -> str:
        """The gateway's name."""
        return self.gateway.name

    async def ingest(
        self, body: bytes, headers: Mapping[str, str], *, remote: str | None, now: float
    ) -> Ingested:
        """Screen, store, verify and process one delivery.

        Returns:
            The outcome; ``deferred`` when the gateway could not be asked (answer 503).

        Raises:
            errors.InvalidWebhook: the delivery is not authentic or not parseable (400);
                it stays stored, cut down, with the reason.
            errors.CapacityExhausted: its authenticity needs the gateway and too many such
                deliveries wait already (answer 503; nothing stored).
        """
        try:
            proven = self._screen(body, headers, now)
        except errors.InvalidWebhook as exc:
            await self.deliveries.store_refused(self.name, body, headers, remote, exc.message)
            raise
        if not proven:
            await self.deliveries.check_pending(self.name, remote)
        delivery_id = await self._store_raw(body, headers, remote)
        return await self._attempt_processing(delivery_id, body, headers, now, proven)

    async def process(
        self, delivery_id: int, body: bytes, headers: Mapping[str, str], *, now: float
    ) -> Ingested:
        """Verify and apply a stored delivery (also the sweeper's entry point).

        Raises:
            errors.InvalidWebhook: as `ingest`.
            Exception: our own trouble (the database...); the attempt is counted, and the
                delivery quarantined after `deliveries.Limits.failed_attempts`.
        """
        try:
            proven = self._screen(body, headers, now)
        except errors.InvalidWebhook as exc:
            await self._refused(delivery_id, body, headers, exc)
            raise
        return await self._attempt_processing(delivery_id, body, headers, now, proven)

    def _screen(self, body: bytes, headers: Mapping[str, str], now: float) -> bool:
        try:
            return self.gateway.screen(body, headers, now=now)
        except (errors.UpstreamError, errors.InvalidSettings):
            return False  # not the sender's fault: `verify` says what to do
        except errors.InvalidWebhook:
            raise
        except _OUR_TROUBLE:
            raise
        except Exception as exc:  # any other error reading untrusted bytes: malformed
            raise self._malformed(exc) from exc

    async def _verify(self, body: bytes, headers: Mapping[str, str], now: float) -> Verified:
        try:
            return await self.gateway.verify(body, headers, now=now, attempts=self._attempt)
        except (errors.InvalidWebhook, errors.UpstreamError, errors.InvalidSettings):
            raise
        except _OUR_TROUBLE:
            raise
        except Exception as exc:  # any other error reading untrusted bytes: malformed
            raise self._malformed(exc) from exc

    def _malformed(self, exc: Exception) -> errors.InvalidWebhook:
        # No traceback: anyone can send these, and a RecursionError's is a thousand frames.
        log.warning("%s webhook: %s on an untrusted body", self.name, type(exc).__name__)
        return malformed(exc)

    async def _attempt_processing(
        self, delivery_id: int, body: bytes, headers: Mapping[str, str], now: float, proven: bool
    ) -> Ingested:
        try:
            return await self._verify_and_apply(delivery_id, body, headers, now, proven)
        except errors.InvalidWebhook:
            raise
        except Exception as exc:
            # A poisoned row (or our database in trouble): counted, quarantined after its
            # attempts, raised on (5xx to the gateway, an error in the reconciler's report).
            metrics.WEBHOOK_DELIVERY_FAILURES.labels(self.name).inc()
            # The first line only: a database error goes on with its statement and parameters.
            lines = str(exc).splitlines()
            why = f"processing failed: {type(exc).__name__}: {lines[0] if lines else ''}"
            try:
                await self.deliveries.failed(delivery_id, why)
            except _OUR_TROUBLE:
                log.exception(
                    "%s webhook: could not record the failure of %s", self.name, delivery_id
                )
            raise

    async def _verify_and_apply(
        self, delivery_id: int, body: bytes, headers: Mapping[str, str], now: float, proven: bool
    ) -> Ingested:
        try:
            verified = await self._verify(body, headers, now)
        except errors.InvalidWebhook as exc:
            if proven or exc.details.get("authentic") is True:
                # Signed, so never dropped: kept in full for the operator; retrying cannot help.
                why = f"authentic, but cannot be read: {exc.message}"
                await self._mark(delivery_id, verification="valid", outcome="rejected", error=why)
                return Ingested(delivery_id, "rejected", detail=why)
            await self._refused(delivery_id, body, headers, exc)
            raise
        except (errors.UpstreamError, errors.InvalidSettings) as exc:
            # Not the sender's fault: keep it for the gateway's retry and our sweeper.
            outcome = await self.deliveries.deferred(delivery_id, exc.message) or "deferred"
            return Ingested(delivery_id, outcome, detail=exc.message)
        if not verified.authentic:
            await self.deliveries.cut_down(
                delivery_id,
                body,
                headers,
                verification="unauthenticated",
                outcome="unknown_resource",
                why=verified.note,
            )
            return Ingested(delivery_id, "unknown_resource", detail=verified.note)
        async with self.db.begin() as conn:
            result = await self._process(conn, delivery_id, verified)
            await conn.execute(
                _MARK_PROCESSED,
                {
                    "p_delivery_id": delivery_id,
                    "p_outcome": result.outcome,
                    "p_error": column_text(result.detail) or None,
                    "p_event_id": _key(verified.event_id),
                    "p_event_type": column_text(verified.event_type, 100),
                    "p_invoice_id": result.invoice_id,
                },
            )
        if self.policy is not None and result.outcome in ("refund_full", "dispute_full"):
            try:
                await self.policy.apply_pending()
            except Exception:
                # The delivery is processed; the reconciler applies the policy on its pass.
                log.exception(
                    "%s webhook: the reversal policy failed after %s", self.name, delivery_id
                )
        return result

    async def _refused(
        self,
        delivery_id: int,
        body: bytes,
        headers: Mapping[str, str],
        exc: errors.InvalidWebhook,
    ) -> None:
        await self.deliveries.cut_down(
            delivery_id,
            body,
            headers,
            verification="invalid",
            outcome="rejected",
            why=exc.message,
        )

    async def _attempt(self, gateway_ref: str) -> Attempt | None:
        async with self.db.connect() as conn:
            return await find_attempt(conn, self.gateway.name, gateway_ref)

    async def _store_raw(self, body: bytes, headers: Mapping[str, str], remote: str | None) -> int:
        async with self.db.begin() as conn:
            result = await conn.execute(
                _STORE_RAW,
                {
                    "p_gateway": self.gateway.name,
                    "p_remote_addr": remote,
                    "p_headers": deliveries.stored_headers(headers),
                    "p_body": body,
                },
            )
            return int(result.scalar_one())

    async def _mark(self, delivery_id: int, **values: Any) -> None:
        if isinstance(values.get("error"), str):
            values["error"] = column_text(values["error"])
        async with self.db.begin() as conn:
            await conn.execute(
                schema.webhook_events.update()
                .where(schema.webhook_events.c.id == delivery_id)
                .values(attempts=schema.webhook_events.c.attempts + 1, **values)
            )

    async def _process(
        self, conn: AsyncConnection, delivery_id: int, verified: Verified
    ) -> Ingested:
        if not verified.facts:
            return Ingested(delivery_id, "unknown_resource", detail=verified.note)
        name = self.gateway.name
        first = await conn.execute(
            self.db.prepared(_first_delivery),
            {
                "p_gateway": name,
                "p_event_id": _key(verified.event_id),
                "p_delivery_id": delivery_id,
            },
        )
        if first.rowcount == 0:
            return await self._duplicate(conn, delivery_id, verified)
        results = [
            await ledger.apply_fact(
                conn,
                db=self.db,
                store=self.store,
                gateway=name,
                fact=fact,
                livemode=self.gateway.livemode,
                delivery_id=delivery_id,
            )
            for fact in verified.facts
        ]
        return _combined(delivery_id, verified, results)

    async def _duplicate(
        self, conn: AsyncConnection, delivery_id: int, verified: Verified
    ) -> Ingested:
        # Link the repeat to the invoice of the first delivery, for the operator's search.
        original = (
            await conn.execute(
                _ORIGINAL_DELIVERY,
                {"p_gateway": self.gateway.name, "p_event_id": _key(verified.event_id)},
            )
        ).first()
        what = "event" if "@" not in verified.event_id else "unchanged state of"
        return Ingested(
            delivery_id,
            "duplicate",
            original.invoice_id if original else None,
            detail=f"{what} {verified.event_id.split('@')[0]} already processed"
            + (f" (delivery {original.id})" if original else ""),
        )


def _key(event_id: str) -> str:
    """An event id or state key as its columns take it (`deliveries.column_text`)."""
    return column_text(event_id, 255)


def _combined(delivery_id: int, verified: Verified, results: Sequence[ledger.Applied]) -> Ingested:
    main = min(results, key=lambda r: _RANK.get(r.outcome, len(_RANK)))
    invoice_id = main.invoice_id or next((r.invoice_id for r in results if r.invoice_id), None)
    run_id = next((r.run_id for r in results if r.run_id is not None), None)
    details = [r.detail for r in results if r.detail]
    if main.outcome == "ignored" and all(f.kind == "ignored" for f in verified.facts):
        details = [f"{verified.event_type} needs no action"]
    return Ingested(delivery_id, main.outcome, invoice_id, run_id, "; ".join(details)[:2000])


class StripeEndpoint(GatewayEndpoint):
    """Stripe ingestion for one endpoint: its secrets (current first) and mode."""

    def __init__(
        self,
        db: Database,
        store: RunStore,
        secrets: Sequence[str],
        *,
        livemode: bool = False,
        policy: ReversalPolicy | None = None,
    ) -> None:
        super().__init__(db, store, StripeGateway(secrets, livemode=livemode), policy=policy)
