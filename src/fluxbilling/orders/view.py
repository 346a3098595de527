"""The order as a phase sees it: order, customer, product, image, connection, host, service, leases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import schema

__all__ = ["OrderView", "addressing", "load"]


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if row is not None else {}


def addressing(product: dict[str, Any]) -> str:
    """Who picks a service's address: `ipam` (we do, from our subnets) or `provider`.

    `options.addressing` on the product decides; by default VPS and bare metal are ours and
    shared hosting and game servers live on the provider's (shared) addresses.
    """
    chosen = (product.get("options") or {}).get("addressing")
    if chosen in ("ipam", "provider"):
        return str(chosen)
    return "provider" if product.get("service_type") in ("shared", "game") else "ipam"


@dataclass(frozen=True, slots=True)
class OrderView:
    """Plain data of one order and everything it refers to (rows as dicts)."""

    order: dict[str, Any]
    customer: dict[str, Any]
    product: dict[str, Any]
    image: dict[str, Any]
    connection: dict[str, Any]
    location: dict[str, Any]
    service: dict[str, Any]
    host: dict[str, Any]
    address: dict[str, Any]
    """The primary lease (IPv4 first), or empty."""
    subnet: dict[str, Any]
    leases: list[dict[str, Any]] = field(default_factory=list)
    """Every live lease of the order (`allocation.leases`): IPv4, IPv6, routed prefixes."""

    @property
    def order_id(self) -> int:
        """The order id."""
        return int(self.order["id"])


async def load(conn: AsyncConnection, order_id: int) -> OrderView:
    """Read an order and its neighbours; missing optional parts are empty dicts."""
    t = schema
    order = (await conn.execute(sa.select(t.orders).where(t.orders.c.id == order_id))).first()
    if order is None:
        raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)

    async def one(table: sa.Table, column: sa.Column[Any], value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        return _row((await conn.execute(sa.select(table).where(column == value))).first())

    product = await one(t.products, t.products.c.id, order.product_id)
    service = await one(t.services, t.services.c.order_id, order.id)
    leases = [
        _row(r)
        for r in await conn.execute(
            sa.select(t.ip_addresses)
            .where(t.ip_addresses.c.order_id == order.id)
            .order_by(t.ip_addresses.c.family, t.ip_addresses.c.kind, t.ip_addresses.c.id)
        )
    ]
    address = leases[0] if leases else {}
    connection = await one(t.connections, t.connections.c.id, product.get("connection_id"))
    connection.pop("secrets_sealed", None)
    return OrderView(
        order=_row(order),
        customer=await one(t.customers, t.customers.c.id, order.customer_id),
        product=product,
        image=await one(t.images, t.images.c.id, product.get("image_id")),
        connection=connection,
        location=await one(t.locations, t.locations.c.id, product.get("location_id")),
        service=service,
        host=await one(t.hosts, t.hosts.c.id, service.get("host_id")),
        address=address,
        subnet=await one(t.subnets, t.subnets.c.id, address.get("subnet_id")),
        leases=leases,
    )
