"""Webhook deliveries for the operator: what arrived, whether it verified, what it did, and why.

A delivery nobody vouched for keeps only the first bytes of its body (`body_truncated`, with
the size and SHA-256 it arrived with). A quarantined one (processing kept failing: `reason`
is the last failure) waits for the operator: `POST …/{id}/release` hands it back to the
reconciler's sweep with its attempts reset.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling import audit, errors
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import Line, RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.db import schema
from fluxbilling.redaction import Redactor

__all__ = ["DeliveryDetailOut", "DeliveryListOut", "DeliveryOut", "router"]

router = APIRouter(
    prefix="/api/v1/webhook-deliveries", tags=["billing"], dependencies=[Depends(require_token)]
)
_BODY_PREVIEW = 64 * 1024
_MASKED = Redactor()
# ``token=...`` (form) or ``"token": "..."`` (JSON): CoinGate echoes our per-order token.
_TOKEN_FIELD = re.compile(r'((?:^|&)token=|"token"\s*:\s*")[^&"]*')


class DeliveryOut(Row):
    """One webhook delivery: what arrived, whether it verified, what it did."""

    id: int
    gateway: str
    received_at: Timestamp
    remote_addr: str | None
    event_id: str | None
    event_type: str | None
    invoice_id: int | None
    verification: str = Field(description="pending, valid, invalid or unauthenticated")
    outcome: str | None = Field(
        description="processed, duplicate, rejected, deferred, quarantined, ... (null: not "
        "processed yet)"
    )
    reason: str | None = Field(description="why it was rejected, or its last failure")
    attempts: int = Field(description="how often processing it was tried")


class DeliveryDetailOut(DeliveryOut):
    """One delivery with its (masked) headers and the first bytes of its body."""

    body_truncated: bool = Field(description="true: the body kept only its first bytes")
    body_size: int = Field(description="the size of the body as it arrived, in bytes")
    body_sha256: str | None = Field(description="the SHA-256 of a truncated body as it arrived")
    headers: dict[str, str] = Field(description="credentials and signatures masked")
    body: str = Field(description="the first 64 KiB, as text (per-order tokens masked)")


class DeliveryListOut(Row):
    """A page of deliveries, newest first."""

    items: list[DeliveryOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


def _delivery(row: Any) -> DeliveryOut:
    """A `webhook_events` row as the operator sees it (`error` is its `reason`)."""
    return DeliveryOut(
        id=row.id,
        gateway=row.gateway,
        received_at=row.received_at,
        remote_addr=row.remote_addr,
        event_id=row.event_id,
        event_type=row.event_type,
        invoice_id=row.invoice_id,
        verification=row.verification,
        outcome=row.outcome,
        reason=row.error,
        attempts=row.attempts,
    )


def _detail(row: Any) -> DeliveryDetailOut:
    text = bytes(row.body[:_BODY_PREVIEW]).decode("utf-8", errors="replace")
    return DeliveryDetailOut(
        **dict(_delivery(row)),
        body_truncated=row.body_size is not None,
        body_size=len(row.body) if row.body_size is None else row.body_size,
        body_sha256=row.body_sha256,
        headers=_MASKED.headers(row.headers),
        body=_TOKEN_FIELD.sub(r"\1***", text),  # CoinGate's per-order callback token
    )


@router.get("", summary="Deliveries, newest first; filter by invoice, gateway, outcome")
async def list_deliveries(
    request: Request,
    invoice_id: RowId | None = None,
    gateway: Line | None = None,
    outcome: Annotated[
        Line | None,
        Query(description="e.g. processed, duplicate, rejected, deferred, quarantined"),
    ] = None,
    verification: Annotated[
        Line | None, Query(description="pending, valid, invalid or unauthenticated")
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> DeliveryListOut:
    """A rejected delivery carries its `reason` (bad signature, amount mismatch, ...)."""
    table = schema.webhook_events
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit + 1)
    for column, value in (
        (table.c.invoice_id, invoice_id),
        (table.c.gateway, gateway),
        (table.c.outcome, outcome),
        (table.c.verification, verification),
    ):
        if value is not None:
            query = query.where(column == value)
    if cursor is not None:
        query = query.where(table.c.id < cursor)
    async with request.app.state.installation.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return DeliveryListOut(
        items=[_delivery(r) for r in rows[:limit]],
        next_cursor=rows[limit - 1].id if len(rows) > limit else None,
    )


@router.get("/{delivery_id}", summary="One delivery with its (masked) headers and raw body")
async def get_delivery(request: Request, delivery_id: RowId) -> DeliveryDetailOut:
    """The raw body is what the gateway sent; signature headers are masked."""
    table = schema.webhook_events
    async with request.app.state.installation.db.connect() as conn:
        row = (await conn.execute(sa.select(table).where(table.c.id == delivery_id))).first()
    if row is None:
        raise errors.NotFound(f"delivery {delivery_id} does not exist", delivery_id=delivery_id)
    return _detail(row)


@router.post(
    "/{delivery_id}/release",
    summary="Hand a quarantined delivery back to the reconciler",
    responses={409: {"description": "the delivery is not quarantined"}},
)
async def release_delivery(request: Request, delivery_id: RowId, who: Operator) -> DeliveryOut:
    """Its attempts start again from zero; the reconciler's next pass processes it.

    Raises:
        errors.NotFound: no such delivery.
        errors.Conflict: the delivery is not quarantined.
    """
    table = schema.webhook_events
    async with request.app.state.installation.db.begin() as conn:
        row = (
            await conn.execute(
                table.update()
                .where(table.c.id == delivery_id, table.c.outcome == "quarantined")
                .values(
                    outcome=sa.case((table.c.verification == "pending", None), else_="deferred"),
                    attempts=0,
                )
                .returning(*table.c)
            )
        ).first()
        if row is None:
            exists = (
                await conn.execute(sa.select(table.c.outcome).where(table.c.id == delivery_id))
            ).first()
            if exists is None:
                raise errors.NotFound(
                    f"delivery {delivery_id} does not exist", delivery_id=delivery_id
                )
            raise errors.Conflict(
                f"delivery {delivery_id} is not quarantined ({exists.outcome})",
                delivery_id=delivery_id,
            )
        await audit.record(
            conn,
            actor=who.name,
            action="delivery.release",
            entity="delivery",
            entity_id=delivery_id,
            changes={"outcome": {"from": "quarantined", "to": row.outcome}},
        )
    return _delivery(row)
