"""Services: lifecycle actions (suspend, terminate, console, ...) run durably through the engine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import Field, StringConstraints

from fluxbilling import jsontypes
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import ONE_LINE, JsonObject, RequestBody, RowId, Text
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.orders import actions
from fluxbilling.orders.pipeline import RunState

__all__ = ["ActionListOut", "ActionOut", "QueuedActionOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["services"], dependencies=[Depends(require_token)])


class ActionIn(RequestBody):
    """Parameters of a lifecycle action."""

    params: JsonObject = Field(
        default_factory=dict,
        description="verb-specific: resize needs {'options': {...the new plan's options}}",
    )
    reason: Text | None = Field(default=None, max_length=500, description="kept in the activity")


class ActionOut(Row):
    """A lifecycle action with its run's state, error and result."""

    id: int
    service_id: int
    order_id: int
    run_id: int
    verb: str
    params: jsontypes.JsonObject
    plugin: str = Field(description="the plugin version it runs with, `slug@version`")
    state: RunState
    attempt: int = Field(description="failed attempts so far")
    waiting_for: str | None
    error: jsontypes.JsonObject | None = Field(description="`{code, message, details}`")
    result: jsontypes.JsonValue = Field(
        description="what the verb answered once completed (console: the session, stats: "
        "the figures)"
    )
    requested_by: str
    reason: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class QueuedActionOut(ActionOut):
    """The action a request queued, or the earlier one its idempotency key names."""

    replayed: bool = Field(description="true: the idempotency key matched an earlier request")


class ActionListOut(Row):
    """A service's actions, newest first."""

    items: list[ActionOut]


@router.post(
    "/services/{service_id}/actions/{verb}",
    status_code=202,
    summary="Queue a lifecycle action (suspend, unsuspend, terminate, reinstall, resize, "
    "reset_password, console, stats) for a service",
    responses={
        409: {
            "description": "the service's status does not allow it, or another action "
            "of the service is still running"
        }
    },
)
async def request_action(
    request: Request,
    who: Operator,
    service_id: RowId,
    verb: Annotated[
        str,
        StringConstraints(max_length=100),
        ONE_LINE,
        Path(description="a lifecycle verb the service's plugin declares"),
    ],
    body: ActionIn | None = None,
    idempotency_key: Annotated[
        Annotated[str, StringConstraints(max_length=200), ONE_LINE] | None,
        Header(description="repeat a request without queueing it twice"),
    ] = None,
) -> QueuedActionOut:
    """202 with the queued action; poll `GET /api/v1/actions/{id}` for its state and result.

    422 when the verb is unknown or the plugin lacks the capability, 409 when the service's
    status does not allow it or another action of the service is still running.
    """
    installation = request.app.state.installation
    action = await actions.request_action(
        installation.db,
        installation.store,
        installation.drivers,
        installation.vault,
        service_id=service_id,
        verb=verb,
        params=body.params if body else None,
        reason=body.reason if body else None,
        actor=who.name,
        idempotency_key=idempotency_key,
    )
    installation.wakeup.notify()
    return QueuedActionOut.model_validate(action)


@router.get("/services/{service_id}/actions", summary="A service's actions, newest first")
async def list_actions(
    request: Request, service_id: RowId, limit: int = Query(50, ge=1, le=500)
) -> ActionListOut:
    """Each action with its run's state, error and result."""
    installation = request.app.state.installation
    items = await actions.list_actions(installation.db, installation.vault, service_id, limit=limit)
    return ActionListOut(items=[ActionOut.model_validate(item) for item in items])


@router.get("/actions/{action_id}", summary="One action with its state and result")
async def get_action(request: Request, action_id: RowId) -> ActionOut:
    """The result of `console` and `stats` is here once the action completed."""
    installation = request.app.state.installation
    async with installation.db.connect() as conn:
        action = await actions.describe_action(conn, action_id, installation.vault)
    return ActionOut.model_validate(action)
