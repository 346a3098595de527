"""Orders: create one (with its invoice) and read one with its phases and activity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import EmailStr, Field

from fluxbilling.api.auth import require_token
from fluxbilling.api.fields import Line, RequestBody, RowId
from fluxbilling.orders import service

__all__ = ["router"]

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


@router.post(
    "",
    status_code=201,
    summary="Create an order and its unpaid invoice",
    responses={
        404: {"description": "no product with that slug"},
        409: {"description": "the hostname is already used by another order"},
    },
)
async def create_order(body: OrderIn, request: Request) -> dict[str, Any]:
    """The order is `awaiting_payment` until a verified payment clears its invoice."""
    return await service.create_order(
        request.app.state.installation.db,
        customer_email=str(body.customer.email),
        customer_name=body.customer.name,
        product_slug=body.product,
        hostname=body.hostname,
    )


@router.get("/{order_id}", summary="An order with its phases, service and activity")
async def get_order(order_id: RowId, request: Request) -> dict[str, Any]:
    """Secrets are never included; the service says only whether credentials exist."""
    return await service.describe_order(request.app.state.installation.db, order_id)
