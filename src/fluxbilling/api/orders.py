"""Orders: create one (with its invoice) and read one with its phases and activity."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import EmailStr, Field

from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import Line, RequestBody, RowId
from fluxbilling.api.invoices import InvoiceOut
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.jsontypes import JsonObject, JsonValue
from fluxbilling.orders import detail, service
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import Phase, RunState

__all__ = ["OrderCreatedOut", "OrderOut", "router"]

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


class PhaseOut(Row):
    """One provisioning phase."""

    phase: Phase
    status: detail.PhaseStatus
    output: JsonValue = Field(description="what the phase recorded, once it is done")


class ServiceOut(Row):
    """The order's service (credentials are never shown)."""

    id: int
    order_id: int
    status: ServiceState
    host_id: int | None
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


class OrderOut(Row):
    """An order with its invoice, run, phases, service and activity."""

    id: int
    hostname: str
    state: OrderState
    invoice: InvoiceOut | None
    run: OrderRunOut | None
    phases: list[PhaseOut] = Field(description="every provisioning phase, in order")
    service: ServiceOut | None
    activity: list[ActivityOut]


@router.post(
    "",
    status_code=201,
    summary="Create an order and its unpaid invoice",
    responses={
        404: {"description": "no product with that slug"},
        409: {"description": "the hostname is already used by another order"},
    },
)
async def create_order(body: OrderIn, request: Request, _who: Operator) -> OrderCreatedOut:
    """The order is `awaiting_payment` until a verified payment clears its invoice."""
    created = await service.create_order(
        request.app.state.installation.db,
        customer_email=str(body.customer.email),
        customer_name=body.customer.name,
        product_slug=body.product,
        hostname=body.hostname,
    )
    return OrderCreatedOut.model_validate(created)


@router.get("/{order_id}", summary="An order with its phases, service and activity")
async def get_order(order_id: RowId, request: Request) -> OrderOut:
    """Secrets are never included; the service says only whether credentials exist."""
    found = await detail.describe_order(request.app.state.installation.db, order_id)
    return OrderOut.model_validate(found)
