"""Order services: create an order with its unpaid invoice (`orders.detail` reads one back)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from fluxbilling import audit, errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers import address_policy
from fluxbilling.engine import activity
from fluxbilling.orders import lifecycle
from fluxbilling.orders.lifecycle import OrderState

__all__ = ["NewInvoice", "NewOrder", "OrderCreated", "create_order", "validate_hostname"]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class NewOrder:
    """The order just created."""

    id: int
    hostname: str
    state: OrderState
    product: str


@dataclass(frozen=True, slots=True)
class NewInvoice:
    """Its invoice, awaiting payment."""

    id: int
    amount_minor: int
    currency: str
    status: schema.InvoiceStatus


@dataclass(frozen=True, slots=True)
class OrderCreated:
    """What `create_order` made."""

    order: NewOrder
    invoice: NewInvoice


def validate_hostname(hostname: str) -> str:
    """A lower-cased fully qualified hostname, or InvalidSettings naming what is wrong.

    Example:
        >>> validate_hostname("VPS1.Example.com")
        'vps1.example.com'
    """
    name = hostname.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise errors.InvalidSettings(
            f"hostname {hostname!r} is not a fully qualified domain name (like vps1.example.com)",
            field="hostname",
        )
    # A numeric top-level label is never a domain: 127.0.0.1, 127.1, 0x7f.1 are addresses.
    if labels[-1].isdigit() or address_policy.literal(name) is not None:
        raise errors.InvalidSettings(
            f"hostname {hostname!r} is an IP address, not a domain name (like vps1.example.com)",
            field="hostname",
        )
    return name


async def create_order(
    db: Database,
    *,
    customer_email: str,
    customer_name: str,
    product_slug: str,
    hostname: str,
    actor: str | None = None,
) -> OrderCreated:
    """Create (or reuse) the customer, then the order and its unpaid invoice, in one transaction.

    `actor`, when an operator placed it (the API), is named by an audit row in that transaction.
    """
    name = validate_hostname(hostname)
    async with db.begin() as conn:
        product = (
            await conn.execute(
                sa.select(schema.products).where(schema.products.c.slug == product_slug)
            )
        ).first()
        if product is None:
            raise errors.NotFound(f"no product {product_slug!r}", field="product")
        taken = (
            await conn.execute(
                sa.select(schema.orders.c.id).where(schema.orders.c.hostname == name)
            )
        ).first()
        if taken is not None:
            raise errors.Conflict(
                f"hostname {name} is already used by order {taken.id}", field="hostname"
            )
        await conn.execute(
            db.insert_ignore(schema.customers).values(
                email=customer_email.lower(), name=customer_name
            )
        )
        customer_id = (
            await conn.execute(
                sa.select(schema.customers.c.id).where(
                    schema.customers.c.email == customer_email.lower()
                )
            )
        ).scalar_one()
        order_id = await lifecycle.create_order(
            db, conn, customer_id=customer_id, product_id=product.id, hostname=name
        )
        if order_id is None:  # a concurrent order took the hostname after our check
            raise errors.Conflict(f"hostname {name} is already used", field="hostname")
        invoice_id = (
            await conn.execute(
                schema.invoices.insert()
                .values(
                    order_id=order_id,
                    amount_minor=product.price_minor,
                    currency=product.currency,
                    status=schema.InvoiceStatus.UNPAID,
                )
                .returning(schema.invoices.c.id)
            )
        ).scalar_one()
        await activity.record(
            conn,
            order_id,
            "order_created",
            f"order for {product.slug} ({name}) created; invoice {invoice_id} awaits payment",
            data={"invoice_id": invoice_id},
        )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="order.create",
                entity="order",
                entity_id=order_id,
                changes={"product": product.slug, "hostname": name, "invoice_id": invoice_id},
            )
    return OrderCreated(
        NewOrder(order_id, name, lifecycle.ORDERS.initial, product.slug),
        NewInvoice(invoice_id, product.price_minor, product.currency, schema.InvoiceStatus.UNPAID),
    )
