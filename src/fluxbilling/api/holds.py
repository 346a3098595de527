"""Checkout holds: capacity and an address held for an order while its customer pays.

`GET /api/v1/holds?state=held` lists them newest first; `DELETE /api/v1/holds/{id}` gives a
held one back (audited): its capacity and address are free again, and the order reserves
anew when it is paid (`allocation.holds`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling.allocation import holds
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import RowId
from fluxbilling.api.rows import Row, Timestamp

__all__ = ["HoldListOut", "HoldOut", "router"]

router = APIRouter(
    prefix="/api/v1/holds", tags=["allocation"], dependencies=[Depends(require_token)]
)


class HoldOut(Row):
    """One order's hold: what its checkout reserved, and until when."""

    id: int
    order_id: int
    host_id: int
    host_name: str | None = Field(description="the host the capacity is held on")
    subnet_id: int | None
    address: str | None = Field(description="the address held (null: the provider assigns it)")
    ram_mb: int
    vcpus: int
    disk_gb: int
    state: holds.HoldState = Field(description="held, consumed, released or expired")
    reason: str | None = Field(description="why it left `held`")
    expires_at: Timestamp = Field(description="when a held hold is given back if unpaid")
    created_at: Timestamp
    updated_at: Timestamp


class HoldListOut(Row):
    """A page of holds, newest first."""

    items: list[HoldOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


@router.get("", summary="Checkout holds, newest first; filter by state")
async def list_holds(
    request: Request,
    state: Annotated[
        holds.HoldState | None, Query(description="held, consumed, released or expired")
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> HoldListOut:
    """Held holds count on their host's used capacity until consumed, released or expired."""
    async with request.app.state.installation.db.connect() as conn:
        found, after = await holds.list_holds(conn, state=state, limit=limit, cursor=cursor)
    return HoldListOut(items=[HoldOut.model_validate(h) for h in found], next_cursor=after)


@router.delete(
    "/{hold_id}",
    summary="Give a held hold's capacity and address back",
    responses={
        404: {"description": "no such hold"},
        409: {"description": "the hold is not held (consumed, released or expired)"},
    },
)
async def release_hold(request: Request, hold_id: RowId, who: Operator) -> HoldOut:
    """The order keeps its open invoice; it reserves again when it is paid (or checked out)."""
    released = await holds.release_by_operator(
        request.app.state.installation.db, hold_id, actor=who.name
    )
    return HoldOut.model_validate(released)
