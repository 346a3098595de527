"""`GET /metrics`: the Prometheus exposition; run counts and webhook deliveries waiting, quarantined
or unverified are read from the database at scrape time."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fluxbilling.api.auth import require_token
from fluxbilling.billing.deliveries import UNVERIFIED
from fluxbilling.db import schema
from fluxbilling.metrics import REGISTRY, RUNS, WEBHOOKS_KEPT, WEBHOOKS_WAITING

__all__ = ["router"]

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_token)])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    db = request.app.state.installation.db
    runs, deliveries = schema.runs, schema.webhook_events
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(runs.c.state, runs.c.phase, sa.func.count()).group_by(
                    runs.c.state, runs.c.phase
                )
            )
        ).all()
        waiting = (
            await conn.execute(
                sa.select(deliveries.c.gateway, deliveries.c.outcome, sa.func.count())
                .where(
                    sa.or_(
                        deliveries.c.outcome == "deferred",
                        sa.and_(
                            deliveries.c.outcome.is_(None), deliveries.c.verification == "pending"
                        ),
                    )
                )
                .group_by(deliveries.c.gateway, deliveries.c.outcome)
            )
        ).all()
        state = sa.case(
            (deliveries.c.outcome == "quarantined", "quarantined"), else_="unverified"
        ).label("state")
        kept = (
            await conn.execute(
                sa.select(deliveries.c.gateway, state, sa.func.count())
                .where(
                    sa.or_(
                        deliveries.c.outcome == "quarantined",
                        deliveries.c.verification.in_(UNVERIFIED),
                    )
                )
                .group_by(deliveries.c.gateway, state)
            )
        ).all()
    RUNS.clear()
    for state, phase, count in rows:
        RUNS.labels(state, phase).set(count)
    WEBHOOKS_WAITING.clear()
    for gateway, outcome, count in waiting:
        WEBHOOKS_WAITING.labels(gateway, outcome or "unprocessed").set(count)
    WEBHOOKS_KEPT.clear()
    for gateway, kind, count in kept:
        WEBHOOKS_KEPT.labels(gateway, kind).set(count)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
