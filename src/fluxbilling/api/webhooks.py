"""Gateway webhooks: authenticated by signature only, never by API token."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fluxbilling import errors, metrics
from fluxbilling.api.errors import error_body

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_BODY = 256 * 1024


@router.post("/stripe", summary="Stripe event delivery (Stripe-Signature verified)")
async def stripe_webhook(request: Request) -> JSONResponse:
    """Store, verify and process one Stripe delivery; 400 when it is not authentic."""
    installation = request.app.state.installation
    body = await request.body()
    if len(body) > MAX_BODY:
        metrics.WEBHOOKS.labels("stripe", "too_large").inc()
        return JSONResponse(error_body("InvalidWebhook", "body larger than 256 KiB"), 400)
    endpoint = installation.stripe_endpoint()
    try:
        result = await endpoint.ingest(
            body,
            dict(request.headers),
            remote=request.client.host if request.client else None,
            now=int(time.time()),
        )
    except errors.InvalidWebhook as exc:
        metrics.WEBHOOKS.labels("stripe", "invalid").inc()
        return JSONResponse(error_body("InvalidWebhook", exc.message, exc.details), 400)
    metrics.WEBHOOKS.labels("stripe", result.outcome).inc()
    if result.run_id is not None:
        installation.wakeup.notify()
    return JSONResponse(
        {"received": True, "delivery_id": result.delivery_id, "outcome": result.outcome}
    )
