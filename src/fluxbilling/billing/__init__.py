"""Billing: turning payment-gateway notifications into payment facts, and applying them.

Each gateway is one package under `gateways`: pure functions that verify, parse and
classify raw webhook bytes or fetched gateway objects into `facts.PaymentFact`s, an API
client, and the adapter `gateway.Gateway` names. The rest is gateway-neutral: `money`
decides what a fact does to an invoice (pure), `ledger` applies facts in one transaction,
`reversals` acts on full refunds and chargebacks, `webhooks` is the ingestion endpoint
(screen, store raw, verify, dedupe, apply), `deliveries` bounds what is kept of deliveries
nobody vouched for, `checkout` creates payments and `reconciler` catches what webhooks
missed.
"""

from __future__ import annotations

from fluxbilling.billing import facts, ledger

__all__ = ["facts", "ledger"]
