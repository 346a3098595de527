"""Gateway webhooks: authenticated by the gateway's own scheme only, never by API token.

Status codes every gateway understands: 200 accepted (also duplicates, unknown objects,
events we ignore and authentic ones our checks refuse), 400 not authentic or malformed, 503
stored but not yet processable (the gateway's API could not be asked: the gateway retries,
and so does our sweeper) or not stored because too many unverified deliveries wait, 404 for
a gateway this installation has no credentials for. Never 3xx, 401 or 403: CoinGate stops
retrying on them and Mollie drops the body on redirects (payments.md §6.1).

A refused delivery's answer says only "not authentic": why (which check, our clock, the
tolerance, how many secrets we tried) is for the operator, in the stored delivery.

Bodies over `limits.WEBHOOK_BYTES` (256 KiB) are answered 413, and JSON bodies nested deeper
than `limits.JSON_DEPTH` 422, by `api.request_limits` before this route reads them.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fluxbilling import errors, metrics
from fluxbilling.api.errors import error_body

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/{gateway}",
    summary="A payment gateway's notification (verified its own way)",
    responses={
        400: {"description": "not authentic or malformed"},
        404: {"description": "no credentials for this gateway"},
        503: {
            "description": "stored, not processed yet (the gateway retries); "
            "or the database is unavailable",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def gateway_webhook(gateway: str, request: Request) -> JSONResponse:
    """Store, verify and process one delivery (Stripe, Mollie, PayPal or CoinGate)."""
    installation = request.app.state.installation
    try:
        endpoint = installation.endpoint(gateway)
    except errors.NotFound as exc:
        return JSONResponse(error_body("NotFound", exc.message, exc.details), 404)
    body = await request.body()  # at most 256 KiB: api.request_limits refuses more
    try:
        result = await endpoint.ingest(
            body,
            _headers(request),
            remote=request.client.host if request.client else None,
            now=time.time(),
        )
    except errors.InvalidWebhook:
        metrics.WEBHOOKS.labels(endpoint.name, "invalid").inc()
        return JSONResponse(error_body("InvalidWebhook", "not authentic"), 400)
    except errors.CapacityExhausted:
        metrics.WEBHOOKS.labels(endpoint.name, "busy").inc()
        return JSONResponse(
            error_body("Busy", "too many unverified deliveries are waiting; try again later"),
            503,
            headers={"Retry-After": "60"},
        )
    metrics.WEBHOOKS.labels(endpoint.name, result.outcome).inc()
    if result.run_id is not None:
        installation.wakeup.notify()
    answer = {"received": True, "delivery_id": result.delivery_id, "outcome": result.outcome}
    # Deferred: stored, not processed yet; 503 makes the gateway try again as well.
    waiting = result.outcome in ("deferred", "quarantined")
    return JSONResponse(answer, 503 if waiting else 200)


def _headers(request: Request) -> dict[str, str]:
    """Request headers; repeated ones joined with ", " (Mollie sends one signature per secret)."""
    joined: dict[str, str] = {}
    for name, value in request.headers.items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined
