"""Orders as the console lists them: one row each with its run, newest first, by cursor.

One statement per page: orders joined with their product, customer and provisioning run
(at most one per order), filtered, `ORDER BY orders.id DESC LIMIT n + 1` below the cursor.
On a large table the id order is the primary key's; the state filter has its own index
(`ix_orders_state_id`, migration 0011), and the run is found through `runs.order_id`.

Free text (`q`) matches a hostname substring, case-insensitively, with `%` and `_` taken
literally; a number also matches the order's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.orders.lifecycle import OrderState
from fluxbilling.orders.pipeline import PROVISION_KIND, Phase, RunState

__all__ = ["OrderFilter", "OrderPage", "OrderSummary", "error_summary", "list_orders"]


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What to list (every field optional; all given ones must match)."""

    state: OrderState | None = None
    phase: Phase | None = None
    run_state: RunState | None = None
    product: str | None = None
    """A product slug."""
    customer: str | None = None
    """A substring of the customer's e-mail address (case-insensitive)."""
    q: str | None = None
    """A substring of the hostname, or the order's id."""


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """One order in the list."""

    id: int
    hostname: str
    state: OrderState
    product: str
    customer_email: str
    phase: Phase | None
    run_state: RunState | None
    attempt: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of orders and the cursor of the next one (None: the last page)."""

    items: tuple[OrderSummary, ...]
    next_cursor: int | None


def error_summary(document: Any) -> str | None:
    """One line from a run's `last_error` (`{code, message, ...}`): `code: message`.

    Examples:
        >>> error_summary({"code": "TransientUpstreamError", "message": "HTTP 503"})
        'TransientUpstreamError: HTTP 503'
        >>> error_summary(None) is None
        True
    """
    if not isinstance(document, dict):
        return None
    code, message = document.get("code"), document.get("message")
    line = ": ".join(str(part) for part in (code, message) if part)
    return line[:300] or None


def _query(where: OrderFilter) -> sa.Select[Any]:
    t = schema
    query = (
        sa.select(
            t.orders.c.id,
            t.orders.c.hostname,
            t.orders.c.state,
            t.orders.c.created_at,
            t.orders.c.updated_at,
            t.products.c.slug.label("product"),
            t.customers.c.email.label("customer_email"),
            t.runs.c.phase,
            t.runs.c.state.label("run_state"),
            t.runs.c.attempt,
            t.runs.c.last_error,
        )
        .select_from(t.orders)
        .join(t.products, t.products.c.id == t.orders.c.product_id)
        .join(t.customers, t.customers.c.id == t.orders.c.customer_id)
        .outerjoin(
            t.runs, sa.and_(t.runs.c.order_id == t.orders.c.id, t.runs.c.kind == PROVISION_KIND)
        )
    )
    if where.state is not None:
        query = query.where(t.orders.c.state == where.state.value)
    if where.phase is not None:
        query = query.where(t.runs.c.phase == where.phase.value)
    if where.run_state is not None:
        query = query.where(t.runs.c.state == where.run_state.value)
    if where.product is not None:
        query = query.where(t.products.c.slug == where.product)
    if where.customer is not None:
        needle = where.customer.lower()
        query = query.where(sa.func.lower(t.customers.c.email).contains(needle, autoescape=True))
    if where.q is not None:
        text = sa.func.lower(t.orders.c.hostname).contains(where.q.lower(), autoescape=True)
        digits = where.q.strip()
        if digits.isdecimal() and len(digits) < 19:
            text = sa.or_(text, t.orders.c.id == int(digits))
        query = query.where(text)
    return query


async def list_orders(
    db: Database, where: OrderFilter, *, limit: int, cursor: int | None
) -> OrderPage:
    """A page of orders matching `where`, newest first, below `cursor` (an order id)."""
    orders = schema.orders
    query = _query(where).order_by(orders.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(orders.c.id < cursor)
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = tuple(
        OrderSummary(
            id=r.id,
            hostname=r.hostname,
            state=OrderState(r.state),
            product=r.product,
            customer_email=r.customer_email,
            phase=Phase(r.phase) if r.phase is not None else None,
            run_state=RunState(r.run_state) if r.run_state is not None else None,
            attempt=r.attempt,
            last_error=error_summary(r.last_error),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows[:limit]
    )
    return OrderPage(items, rows[limit - 1].id if len(rows) > limit else None)
