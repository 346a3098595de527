"""Switch-port jobs for the operator: each a run of kind `switch_port` with its port, VLAN and
operation, and what the switch read back. Retrying or cancelling one is the runs API's
(`POST /api/v1/runs/{run_id}/retry`): a job is a run like any other."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling.api.auth import require_token
from fluxbilling.api.fields import RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.jsontypes import JsonObject
from fluxbilling.network.switchport import SwitchOp
from fluxbilling.orders import switch_jobs
from fluxbilling.orders.pipeline import RunState

__all__ = ["SwitchPortJobListOut", "SwitchPortJobOut", "router"]

router = APIRouter(
    prefix="/api/v1/switch-port-jobs", tags=["switch ports"], dependencies=[Depends(require_token)]
)


class SwitchPortJobOut(Row):
    """A switch-port job: which host port goes to which VLAN, and where its run stands."""

    id: int
    run_id: int = Field(description="its run: retry or cancel it through /api/v1/runs")
    order_id: int
    service_id: int
    host_id: int
    port: str = Field(description="the host's edge port, by its name on the switch")
    vlan: int
    operation: SwitchOp = Field(
        description="access (the port on the VLAN), trunk_add or trunk_remove (the VLAN "
        "added to or taken off the port's trunks)"
    )
    state: RunState
    attempt: int = Field(description="failed attempts so far")
    last_error: JsonObject | None = Field(description="`{code, message, details}`")
    result: JsonObject | None = Field(
        description="what the switch read back when the job finished (`read_back`), or the "
        "services it kept the VLAN for (`kept_for`)"
    )
    created_at: Timestamp
    updated_at: Timestamp


class SwitchPortJobListOut(Row):
    """A page of switch-port jobs, newest first."""

    items: list[SwitchPortJobOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


@router.get("", summary="Switch-port jobs, newest first, by state and order; paginated by cursor")
async def list_switch_port_jobs(
    request: Request,
    state: RunState | None = None,
    order_id: Annotated[RowId | None, Query(description="the order's jobs only")] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> SwitchPortJobListOut:
    """Each job carries its run's state, attempts and last error."""
    query = switch_jobs.job_rows(order_id, state=state, before=cursor).limit(limit + 1)
    async with request.app.state.installation.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return SwitchPortJobListOut(
        items=[SwitchPortJobOut.model_validate(switch_jobs.job_row(r)) for r in rows[:limit]],
        next_cursor=rows[limit - 1].id if len(rows) > limit else None,
    )
