"""Runs for the operator: list failed ones with their upstream payload, retry, cancel."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from fluxbilling.api.auth import require_token
from fluxbilling.api.fields import RequestBody, RowId
from fluxbilling.db import schema
from fluxbilling.orders.pipeline import Phase, RunState

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], dependencies=[Depends(require_token)])


class RetryIn(RequestBody):
    """Where to resume: the failed phase by default."""

    from_phase: Phase | None = None


@router.get("", summary="Runs, newest first, filtered by state; paginated by cursor")
async def list_runs(
    request: Request,
    state: RunState | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> dict[str, Any]:
    """Each item carries `last_error` and the redacted `last_upstream` request/response."""
    runs = schema.runs
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit + 1)
    if state is not None:
        query = query.where(runs.c.state == state)
    if cursor is not None:
        query = query.where(runs.c.id < cursor)
    async with request.app.state.installation.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [
        {
            "id": r.id,
            "order_id": r.order_id,
            "kind": r.kind,
            "state": r.state,
            "phase": r.phase,
            "attempt": r.attempt,
            "wait_reason": r.wait_reason,
            "last_error": r.last_error,
            "last_upstream": r.last_upstream,
            "updated_at": r.updated_at.isoformat(),
        }
        for r in rows[:limit]
    ]
    return {"items": items, "next_cursor": rows[limit - 1].id if len(rows) > limit else None}


@router.post(
    "/{run_id}/retry",
    summary="Retry a failed run from its failed phase or an earlier one",
    responses={409: {"description": "the run is not failed"}},
)
async def retry_run(run_id: RowId, request: Request, body: RetryIn | None = None) -> dict[str, Any]:
    """409 unless the run is failed."""
    installation = request.app.state.installation
    await installation.store.retry(
        run_id, from_phase=body.from_phase if body else None, actor="api"
    )
    installation.wakeup.notify()
    return {"id": run_id, "state": RunState.QUEUED.value}


@router.post(
    "/{run_id}/cancel",
    summary="Cancel a run that has not completed",
    responses={409: {"description": "the run has completed already"}},
)
async def cancel_run(run_id: RowId, request: Request) -> dict[str, Any]:
    """A worker holding the run loses its lease and drops its result."""
    await request.app.state.installation.store.cancel(run_id, actor="api")
    return {"id": run_id, "state": RunState.CANCELLED.value}
