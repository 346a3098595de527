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
    "REGISTRY",
    "REQUESTS_REFUSED",
    "RUNS",
    "WEBHOOKS",
    "WEBHOOKS_WAITING",
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
