"""Services: lifecycle actions (suspend, terminate, console, ...) run durably through the engine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import Field, StringConstraints

from fluxbilling import jsontypes
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import ONE_LINE, JsonObject, Line, RequestBody, RowId, Text
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.orders import actions, service_reads
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import RunState

__all__ = [
    "ActionListOut",
    "ActionOut",
    "QueuedActionOut",
    "ServiceDetailOut",
    "ServiceListOut",
    "router",
]

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


class ServiceSummaryOut(Row):
    """One service in the list."""

    id: int
    order_id: int
    hostname: str = Field(description="its order's hostname")
    state: ServiceState
    product: str = Field(description="the product's slug")
    plugin: str | None = Field(description="`slug@version` it was provisioned with")
    host: str | None = Field(description="the host's name")
    created_at: Timestamp
    updated_at: Timestamp


class ServiceListOut(Row):
    """A page of services, newest first."""

    items: list[ServiceSummaryOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


class AddressOut(Row):
    """An address the service holds (or its order reserved)."""

    address: str
    subnet: str = Field(description="the subnet's CIDR")
    gateway: str
    state: str


class VerbOut(Row):
    """One lifecycle verb of the service: offered by its plugin, and allowed now."""

    verb: str
    offered: bool = Field(description="the plugin's newest version declares and runs it")
    allowed: bool = Field(
        description="`POST /services/{id}/actions/{verb}` would be accepted now: offered, "
        "the service's state allows it and no other action of it is running"
    )
    refusal: str | None = Field(description="why it is not allowed now (None: it is)")


class ServiceDetailOut(Row):
    """A service with its order, plugin, host, addresses, verbs and recent actions (credentials
    are never shown)."""

    id: int
    order_id: int
    order_state: OrderState
    hostname: str
    state: ServiceState
    product: str = Field(description="the product's slug")
    plugin: str | None = Field(description="`slug@version` it was provisioned with")
    host_id: int | None
    host: str | None = Field(description="the host's name")
    external_id: str | None = Field(description="the panel's id of the service")
    service_data: JsonObject = Field(description="what the plugin's flows stored")
    addresses: list[AddressOut]
    has_credentials: bool = Field(description="whether a root (or account) password is sealed")
    capabilities: list[str] = Field(
        description="what the plugin's newest version declares (`canSuspend`, ...)"
    )
    verbs: list[VerbOut] = Field(description="every lifecycle verb, offered or not")
    running_action_id: int | None = Field(
        description="the action queued or running now (None: none)"
    )
    actions: list[ActionOut] = Field(description="its newest actions, newest first")
    created_at: Timestamp
    updated_at: Timestamp


@router.get("/services", summary="Services, newest first, filtered; paginated by cursor")
async def list_services(
    request: Request,
    state: ServiceState | None = None,
    product: Annotated[Line | None, Query(max_length=100, description="a product slug")] = None,
    plugin: Annotated[Line | None, Query(max_length=100, description="a plugin slug")] = None,
    host: Annotated[Line | None, Query(max_length=200, description="a host's name")] = None,
    q: Annotated[
        Line | None,
        Query(
            min_length=1,
            max_length=253,
            description="part of the hostname, or the service's or the order's id",
        ),
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> ServiceListOut:
    """Each row names its order, hostname, product, plugin and host."""
    where = service_reads.ServiceFilter(state=state, product=product, plugin=plugin, host=host, q=q)
    page = await service_reads.list_services(
        request.app.state.installation.db, where, limit=limit, cursor=cursor
    )
    return ServiceListOut.model_validate(page)


@router.get(
    "/services/{service_id}",
    summary="A service with its verbs (offered, allowed now) and recent actions",
    responses={404: {"description": "no such service"}},
)
async def get_service(request: Request, service_id: RowId) -> ServiceDetailOut:
    """Secrets are never included: `has_credentials` says whether a password is sealed. Each
    verb says whether the API would accept it now, and why not."""
    installation = request.app.state.installation
    found = await service_reads.describe_service(
        installation.db, installation.drivers, installation.vault, service_id
    )
    return ServiceDetailOut.model_validate(found)


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
