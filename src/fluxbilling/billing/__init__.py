"""Billing: turning payment-gateway notifications into payment facts, and applying them.

Gateway modules (`stripe`, `mollie`, `paypal`, `coingate`) are pure: they verify, parse and
classify raw webhook bytes or fetched gateway objects (with an explicit `now`) into
`facts.PaymentFact`s; their `*_api` siblings are thin clients of the gateway APIs. `ledger`
applies facts in one transaction, `reversals` acts on full refunds and chargebacks,
`webhooks` is the ingestion endpoint (screen, store raw, verify, dedupe, apply) and
`deliveries` bounds what is kept of deliveries nobody vouched for.
"""

from __future__ import annotations

from fluxbilling.billing import coingate, facts, ledger, mollie, paypal, stripe

__all__ = ["coingate", "facts", "ledger", "mollie", "paypal", "stripe"]
