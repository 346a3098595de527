"""Runs for the operator: list them (by state, kind or verb, phase, order) with their upstream
payload, retry, cancel; and the flow context a run worked on (redacted), for the builder's test
of a flow."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import RequestBody, RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.db import schema
from fluxbilling.drivers.driver import Verb
from fluxbilling.jsontypes import JsonObject
from fluxbilling.orders.flow_inputs import past_inputs
from fluxbilling.orders.pipeline import (
    ACTION_KIND,
    DCIM_SYNC_KIND,
    PROVISION_KIND,
    SWITCH_PORT_KIND,
    Phase,
    RunState,
)

__all__ = ["FlowContextOut", "RunKind", "RunListOut", "RunOut", "router"]

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], dependencies=[Depends(require_token)])


class RunKind(StrEnum):
    """What a run does, as the runs list filters it: provisioning, any lifecycle action, or
    the action of one verb."""

    PROVISION = PROVISION_KIND
    ACTION = ACTION_KIND
    SWITCH_PORT = SWITCH_PORT_KIND
    DCIM_SYNC = DCIM_SYNC_KIND
    SUSPEND = Verb.SUSPEND
    UNSUSPEND = Verb.UNSUSPEND
    TERMINATE = Verb.TERMINATE
    REINSTALL = Verb.REINSTALL
    RESIZE = Verb.RESIZE
    RESET_PASSWORD = Verb.RESET_PASSWORD
    CONSOLE = Verb.CONSOLE
    STATS = Verb.STATS


class RetryIn(RequestBody):
    """Where to resume: the failed phase by default."""

    from_phase: Phase | None = None


class RunOut(Row):
    """A run: an order's provisioning, or one lifecycle action of its service."""

    id: int
    order_id: int
    kind: str = Field(description="provision or action")
    verb: str | None = Field(description="an action run's verb (None: provisioning)")
    service_id: int | None = Field(description="an action run's service (None: provisioning)")
    state: RunState
    phase: Phase = Field(description="the phase the run stands at")
    attempt: int = Field(description="failed attempts of that phase so far")
    wait_reason: str | None
    last_error: JsonObject | None = Field(description="`{code, message, details}`")
    last_upstream: JsonObject | None = Field(
        description="the last upstream request and response (redacted)"
    )
    updated_at: Timestamp


class RunListOut(Row):
    """A page of runs, newest first."""

    items: list[RunOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


class RunChangedOut(Row):
    """The run's state after the request."""

    id: int
    state: RunState


class FlowContextOut(Row):
    """The flow context a run's verb worked on, rebuilt from stored data, without secrets."""

    run_id: int
    order_id: int
    verb: str = Field(description="the verb its driver ran (`provision` for a provisioning run)")
    plugin: str | None = Field(description="`slug@version` the service is pinned at")
    connection: str | None = Field(description="the product's connection")
    inputs: JsonObject = Field(
        description="order, customer, product, options, settings, image, location, connection, "
        "service, allocation, account (and action): POST it as `inputs` of a test run. No "
        "credentials: a test gets its own"
    )


@router.get(
    "",
    summary="Runs, newest first, filtered by state, kind or verb, phase and order; paginated "
    "by cursor",
)
async def list_runs(
    request: Request,
    state: RunState | None = None,
    kind: Annotated[
        RunKind | None,
        Query(
            description="`provision`, `action` (every lifecycle action), one action verb, or "
            "`switch_port` (switch-port jobs)"
        ),
    ] = None,
    phase: Phase | None = None,
    order_id: Annotated[RowId | None, Query(description="the order's runs only")] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> RunListOut:
    """Each item carries `last_error` and the redacted `last_upstream` request/response, and
    for an action run its verb and service."""
    runs, actions = schema.runs, schema.service_actions
    query = (
        sa.select(runs, actions.c.verb, actions.c.service_id)
        .select_from(runs.outerjoin(actions, actions.c.run_id == runs.c.id))
        .order_by(runs.c.id.desc())
        .limit(limit + 1)
    )
    if state is not None:
        query = query.where(runs.c.state == state)
    if kind in (RunKind.PROVISION, RunKind.ACTION, RunKind.SWITCH_PORT, RunKind.DCIM_SYNC):
        query = query.where(runs.c.kind == kind)
    elif kind is not None:
        query = query.where(runs.c.kind == ACTION_KIND, actions.c.verb == kind)
    if phase is not None:
        query = query.where(runs.c.phase == phase)
    if order_id is not None:
        query = query.where(runs.c.order_id == order_id)
    if cursor is not None:
        query = query.where(runs.c.id < cursor)
    async with request.app.state.installation.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return RunListOut(
        items=[RunOut.model_validate(r) for r in rows[:limit]],
        next_cursor=rows[limit - 1].id if len(rows) > limit else None,
    )


@router.post(
    "/{run_id}/retry",
    summary="Retry a failed run from its failed phase or an earlier one",
    responses={409: {"description": "the run is not failed"}},
)
async def retry_run(
    run_id: RowId, request: Request, who: Operator, body: RetryIn | None = None
) -> RunChangedOut:
    """409 unless the run is failed."""
    installation = request.app.state.installation
    await installation.store.retry(
        run_id, from_phase=body.from_phase if body else None, actor=who.name
    )
    installation.wakeup.notify()
    return RunChangedOut(id=run_id, state=RunState.QUEUED)


@router.post(
    "/{run_id}/cancel",
    summary="Cancel a run that has not completed",
    responses={409: {"description": "the run has completed already"}},
)
async def cancel_run(run_id: RowId, request: Request, who: Operator) -> RunChangedOut:
    """A worker holding the run loses its lease and drops its result."""
    await request.app.state.installation.store.cancel(run_id, actor=who.name)
    return RunChangedOut(id=run_id, state=RunState.CANCELLED)


@router.get(
    "/{run_id}/flow-context",
    summary="The redacted flow context a run worked on, to test a flow with",
)
async def run_flow_context(run_id: RowId, request: Request) -> FlowContextOut:
    """As stored now (the order, its product and service); secrets are masked or left out."""
    installation = request.app.state.installation
    async with installation.db.connect() as conn:
        found = await past_inputs(conn, installation.vault, run_id)
    return FlowContextOut.model_validate(found)
