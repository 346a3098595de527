"""Prometheus instruments, in one registry that `GET /metrics` exposes.

Counters and histograms are per process (a `serve` process exposes its own worker's); run
counts by state and phase are read from the database at scrape time, so they are global.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "PHASE_DURATION",
    "PHASE_OUTCOMES",
    "RECONCILER_CORRECTIONS",
    "RECONCILER_FAILURES",
    "REGISTRY",
    "REQUESTS_REFUSED",
    "RUNS",
    "WEBHOOKS",
    "WEBHOOKS_KEPT",
    "WEBHOOKS_WAITING",
    "WEBHOOK_DELIVERIES_DROPPED",
    "WEBHOOK_DELIVERY_FAILURES",
]

REGISTRY = CollectorRegistry()
WEBHOOKS = Counter(
    "fluxbilling_webhooks_total",
    "Webhook deliveries by gateway and outcome",
    ["gateway", "outcome"],
    registry=REGISTRY,
)
REQUESTS_REFUSED = Counter(
    "fluxbilling_requests_refused_total",
    "Requests refused before they were read whole, by route class (api, plugin, webhook) and "
    "reason (headers_too_large, body_too_large, invalid_json: nested too deep or not UTF-8)",
    ["route", "reason"],
    registry=REGISTRY,
)
RECONCILER_CORRECTIONS = Counter(
    "fluxbilling_reconciler_corrections_total",
    "Payments the reconciler found that no webhook had delivered (each one is a lost webhook)",
    ["gateway"],
    registry=REGISTRY,
)
WEBHOOKS_WAITING = Gauge(
    "fluxbilling_webhook_deliveries_waiting",
    "Deliveries stored but not processed yet, by gateway and state (deferred: the gateway's API "
    "was unreachable; unprocessed: stored, never verified); the reconciler retries both",
    ["gateway", "state"],
    registry=REGISTRY,
)
WEBHOOKS_KEPT = Gauge(
    "fluxbilling_webhook_deliveries_kept",
    "Deliveries kept that need a look or a bound, by gateway and state (quarantined: processing "
    "gave up, the operator releases them; unverified: refused or unauthenticated, bounded by "
    "the webhook_unverified_* caps and pruned after their retention)",
    ["gateway", "state"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES_DROPPED = Counter(
    "fluxbilling_webhook_deliveries_dropped_total",
    "Deliveries nobody vouched for that were not kept, by gateway and reason (per_source, "
    "total: the oldest refused ones deleted beyond a cap; pending_cap: too many waiting for "
    "their gateway, answered 503 and not stored)",
    ["gateway", "reason"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERY_FAILURES = Counter(
    "fluxbilling_webhook_delivery_failures_total",
    "Processing attempts of a stored delivery that raised (a poisoned row: retried, "
    "quarantined after its attempts), by gateway",
    ["gateway"],
    registry=REGISTRY,
)
RECONCILER_FAILURES = Counter(
    "fluxbilling_reconciler_failures_total",
    "Failures the reconciler survived, by stage: one row (invoice, delivery, reversal) or a "
    "whole stage of a pass (stage_invoices, stage_deliveries, stage_prune, stage_reversals)",
    ["stage"],
    registry=REGISTRY,
)
RUNS = Gauge("fluxbilling_runs", "Runs by state and phase", ["state", "phase"], registry=REGISTRY)
PHASE_DURATION = Histogram(
    "fluxbilling_phase_attempt_seconds",
    "Duration of one phase attempt (execute and commit), by phase and outcome",
    ["phase", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
PHASE_OUTCOMES = Counter(
    "fluxbilling_phase_outcomes_total",
    "Phase attempts by phase and outcome (completed, waiting, retry, park, fail, lease_lost)",
    ["phase", "outcome"],
    registry=REGISTRY,
)
