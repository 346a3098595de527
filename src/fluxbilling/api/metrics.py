"""`GET /metrics`: the Prometheus exposition; run counts are read from the database at scrape time."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fluxbilling.api.auth import require_token
from fluxbilling.db import schema
from fluxbilling.metrics import REGISTRY, RUNS

__all__ = ["router"]

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_token)])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    db = request.app.state.installation.db
    runs = schema.runs
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(runs.c.state, runs.c.phase, sa.func.count()).group_by(
                    runs.c.state, runs.c.phase
                )
            )
        ).all()
    RUNS.clear()
    for state, phase, count in rows:
        RUNS.labels(state, phase).set(count)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
