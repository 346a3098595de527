"""Orders: create one (with its invoice) and read one with its phases and activity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import EmailStr, Field

from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import Line, RequestBody, RowId
from fluxbilling.api.holds import HoldOut
from fluxbilling.api.invoices import InvoiceOut
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.api.switch_ports import SwitchPortJobOut
from fluxbilling.jsontypes import JsonObject, JsonValue
from fluxbilling.orders import detail, listing, operator, service
from fluxbilling.orders.attempts import AttemptOutcome, ErrorClass
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import Phase, RunState
from fluxbilling.orders.suggestions import SuggestedAction

__all__ = ["LinkOut", "OrderCreatedOut", "OrderListOut", "OrderOut", "router"]

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], dependencies=[Depends(require_token)])


class CustomerIn(RequestBody):
    """The customer placing the order (found by e-mail, or created)."""

    email: EmailStr
    name: Line = Field(min_length=1, max_length=200)


class OrderIn(RequestBody):
    """A new order."""

    customer: CustomerIn
    product: Line = Field(min_length=1, max_length=100, description="product slug")
    hostname: Line = Field(min_length=3, max_length=253)


class NewOrderOut(Row):
    """The order just created."""

    id: int
    hostname: str
    state: OrderState
    product: str = Field(description="the product's slug")


class NewInvoiceOut(Row):
    """The order's invoice, awaiting payment."""

    id: int
    amount_minor: int = Field(description="in the currency's minor unit (cents)")
    currency: str = Field(description="ISO 4217 code")
    status: str


class OrderCreatedOut(Row):
    """A new order and its unpaid invoice."""

    order: NewOrderOut
    invoice: NewInvoiceOut


class OrderRunOut(Row):
    """The order's provisioning run."""

    id: int
    state: RunState
    phase: Phase = Field(description="the phase the run stands at")
    attempt: int = Field(description="failed attempts of that phase so far")
    next_run_at: Timestamp
    wait_reason: str | None
    lease_owner: str | None = Field(description="the worker running it")
    last_error: JsonObject | None = Field(description="`{code, message, details}`")
    last_upstream: JsonObject | None = Field(
        description="the last upstream request and response (redacted)"
    )


class ExchangeRequestOut(Row):
    """The request of an upstream exchange (secrets masked)."""

    method: str
    url: str
    headers: dict[str, str]
    body: JsonValue


class ExchangeResponseOut(Row):
    """The response of an upstream exchange (secrets masked; None status: no answer came)."""

    status: int | None
    headers: dict[str, str]
    body: JsonValue


class ExchangeOut(Row):
    """One upstream request/response of an attempt, redacted before it was stored."""

    upstream: str = Field(description="the connection's name")
    operation: str
    request: ExchangeRequestOut
    response: ExchangeResponseOut
    error: str | None = Field(description="why no answer came (a timeout, a refused connection)")
    omitted: bool = Field(
        description="headers and bodies were not kept: only failed attempts keep them (a "
        "successful answer may carry credentials)"
    )


class NormalizedErrorOut(Row):
    """An error in the taxonomy's terms."""

    error_class: ErrorClass = Field(
        description="transient, permanent, capacity, invariant, user or unknown"
    )
    code: str = Field(description="the error's class name, e.g. TransientUpstreamError")
    message: str
    upstream: str | None = Field(description="the connection that failed")
    operation: str | None
    status: int | None = Field(description="the upstream's HTTP status")


class PhaseAttemptOut(Row):
    """One attempt of a phase: when, how long, how it ended, its error and exchanges."""

    run_id: int
    number: int = Field(description="the attempt's number within its run's try of the phase")
    outcome: AttemptOutcome
    started_at: Timestamp | None = Field(
        description="None when its start was not recorded (older rows)"
    )
    finished_at: Timestamp
    duration_seconds: float | None
    error: NormalizedErrorOut | None
    exchanges: list[ExchangeOut] = Field(description="its latest upstream exchanges, oldest first")


class LinkOut(Row):
    """What something points to: a kind (`order`, `connection`, `delivery`, `host`) and id."""

    kind: str
    id: str


class SuggestionOut(Row):
    """What the operator should most likely do (`action` names the console's button)."""

    action: SuggestedAction
    message: str
    from_phase: Phase | None = Field(description="for `retry`: the phase to retry from")
    link: LinkOut | None


class PhaseOut(Row):
    """One provisioning phase."""

    phase: Phase
    status: detail.PhaseStatus
    output: JsonValue = Field(description="what the phase recorded, once it is done")
    attempts: list[PhaseAttemptOut] = Field(description="every ended attempt, oldest first")
    suggestion: SuggestionOut | None = Field(
        description="what to do about it (only on the phase the run stands at)"
    )


class ServiceOut(Row):
    """The order's service (credentials are never shown)."""

    id: int
    order_id: int
    status: ServiceState
    host_id: int | None
    storage_pool_id: int | None = Field(
        description="the host storage pool its disk is on (None: the host's own disk)"
    )
    plugin_slug: str | None
    plugin_version: int | None
    external_id: str | None = Field(description="the panel's id of the service")
    service_data: JsonObject = Field(description="what the plugin's flows stored")
    created_at: Timestamp
    updated_at: Timestamp
    has_credentials: bool = Field(description="whether a root (or account) password is sealed")


class ActivityOut(Row):
    """One entry of an order's activity, oldest first."""

    id: int
    at: Timestamp
    event: str
    phase: str | None
    message: str
    data: JsonObject


class PlacementHostOut(Row):
    """A host that fits the order: the chosen one or a runner-up."""

    host_id: int
    host: str
    pool: str | None = Field(description="the storage pool chosen on it")
    ram_mb_left: int = Field(description="free RAM left after placing the order, MB")


class PlacementRejectionOut(Row):
    """A host that lost, and why."""

    host_id: int
    host: str
    reason: str = Field(description="the first check it failed (ram, cpu_flags, storage, ...)")
    text: str = Field(description="the reason with its numbers, in words")


class PlacementOut(Row):
    """Why the order's service landed on its host (or why none fitted)."""

    strategy: str = Field(description="spread or fill")
    chosen: PlacementHostOut | None
    runners_up: list[PlacementHostOut] = Field(description="the next hosts that fit, best first")
    fitting: int = Field(description="how many hosts fit")
    rejected: dict[str, int] = Field(description="hosts that lost, counted by reason")
    rejections: list[PlacementRejectionOut] = Field(
        description="the first hosts that lost (by id), with their numbers"
    )
    not_examined: int = Field(
        description="hosts that passed the database's prefilter but ranked below those examined"
    )
    failed_hosts: list[int] = Field(description="hosts a provision attempt of it failed on")


class OrderOut(Row):
    """An order with its invoice, run, phases, service, switch-port jobs and activity."""

    id: int
    hostname: str
    state: OrderState
    invoice: InvoiceOut | None
    run: OrderRunOut | None
    phases: list[PhaseOut] = Field(description="every provisioning phase, in order")
    service: ServiceOut | None
    activity: list[ActivityOut]
    reallocation_refusal: str | None = Field(
        description="why `POST /orders/{id}/reallocate` would be refused now (None: allowed)"
    )
    retry_from: list[Phase] = Field(
        description="the phases `POST /orders/{id}/retry` may start from now, in order (empty "
        "unless the run failed): never billing, nor an allocation that completed"
    )
    hold: HoldOut | None = Field(
        default=None,
        description="the capacity and address its checkout held (null: never checked out)",
    )
    switch_port_jobs: list[SwitchPortJobOut] = Field(
        description="its switch-port jobs, newest first: each a run of its own (retry it "
        "through `POST /runs/{run_id}/retry`)"
    )
    placement: PlacementOut | None = Field(
        description="why its service landed on its host, or why no host fitted (None: not "
        "allocated yet)"
    )


class OrderSummaryOut(Row):
    """One order in the list, with where its provisioning run stands."""

    id: int
    hostname: str
    state: OrderState
    product: str = Field(description="the product's slug")
    customer_email: str
    phase: Phase | None = Field(description="the phase its run stands at (None: no run yet)")
    run_state: RunState | None
    attempt: int | None = Field(description="failed attempts of that phase so far")
    last_error: str | None = Field(description="`code: message` of the run's last error")
    created_at: Timestamp
    updated_at: Timestamp


class OrderListOut(Row):
    """A page of orders, newest first."""

    items: list[OrderSummaryOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


@router.get("", summary="Orders, newest first, filtered; paginated by cursor")
async def list_orders(
    request: Request,
    state: OrderState | None = None,
    phase: Annotated[Phase | None, Query(description="the phase the run stands at")] = None,
    run_state: RunState | None = None,
    product: Annotated[Line | None, Query(max_length=100, description="a product slug")] = None,
    customer: Annotated[
        Line | None, Query(max_length=320, description="part of the customer's e-mail")
    ] = None,
    q: Annotated[
        Line | None,
        Query(min_length=1, max_length=253, description="part of the hostname, or the order id"),
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> OrderListOut:
    """Each row carries its run's phase, state, attempt and last error in one line."""
    where = listing.OrderFilter(
        state=state, phase=phase, run_state=run_state, product=product, customer=customer, q=q
    )
    page = await listing.list_orders(
        request.app.state.installation.db, where, limit=limit, cursor=cursor
    )
    return OrderListOut.model_validate(page)


@router.post(
    "",
    status_code=201,
    summary="Create an order and its unpaid invoice",
    responses={
        404: {"description": "no product with that slug"},
        409: {"description": "the hostname is already used by another order"},
    },
)
async def create_order(body: OrderIn, request: Request, who: Operator) -> OrderCreatedOut:
    """The order is `awaiting_payment` until a verified payment clears its invoice."""
    created = await service.create_order(
        request.app.state.installation.db,
        customer_email=str(body.customer.email),
        customer_name=body.customer.name,
        product_slug=body.product,
        hostname=body.hostname,
        actor=who.name,
    )
    return OrderCreatedOut.model_validate(created)


@router.get("/{order_id}", summary="An order with its phases, attempts, service and activity")
async def get_order(order_id: RowId, request: Request) -> OrderOut:
    """Secrets are never included; the service says only whether credentials exist. Each
    phase lists its attempts with their redacted upstream exchanges; the phase the run
    stands at carries a suggested action."""
    found = await detail.describe_order(request.app.state.installation.db, order_id)
    return OrderOut.model_validate(found)


class OrderRetryIn(RequestBody):
    """Where to resume: the failed phase by default."""

    from_phase: Phase | None = None


class OrderRunChangedOut(Row):
    """The order's provisioning run after the request."""

    order_id: int
    run_id: int
    state: RunState


_NO_RUN = "no such order"
_STATE = "the order's state does not allow it; the message says why"


@router.post(
    "/{order_id}/retry",
    summary="Retry the order's failed provisioning run from its phase or an earlier one",
    responses={404: {"description": _NO_RUN}, 409: {"description": _STATE}},
)
async def retry_order(
    order_id: RowId, request: Request, who: Operator, body: OrderRetryIn | None = None
) -> OrderRunChangedOut:
    """409 unless the run has failed, or when that phase may not be re-run (billing)."""
    installation = request.app.state.installation
    run_id = await operator.retry(
        installation.store, order_id, from_phase=body.from_phase if body else None, actor=who.name
    )
    installation.wakeup.notify()
    return OrderRunChangedOut(order_id=order_id, run_id=run_id, state=RunState.QUEUED)


@router.post(
    "/{order_id}/cancel",
    summary="Cancel the order's provisioning run (the order is cancelled)",
    responses={404: {"description": _NO_RUN}, 409: {"description": _STATE}},
)
async def cancel_order(order_id: RowId, request: Request, who: Operator) -> OrderRunChangedOut:
    """A worker holding the run loses its lease and drops its result."""
    installation = request.app.state.installation
    run_id = await operator.cancel(installation.store, order_id, actor=who.name)
    return OrderRunChangedOut(order_id=order_id, run_id=run_id, state=RunState.CANCELLED)


@router.post(
    "/{order_id}/reallocate",
    summary="Give back the order's host and address and provision again from allocation",
    responses={404: {"description": _NO_RUN}, 409: {"description": _STATE}},
)
async def reallocate_order(order_id: RowId, request: Request, who: Operator) -> OrderRunChangedOut:
    """Allowed for a failed order whose run stopped at allocation or provision before anything
    was created upstream (`reallocation_refusal` on the order says why not, otherwise)."""
    installation = request.app.state.installation
    run_id = await operator.reallocate(installation.store, order_id, actor=who.name)
    installation.wakeup.notify()
    return OrderRunChangedOut(order_id=order_id, run_id=run_id, state=RunState.QUEUED)
