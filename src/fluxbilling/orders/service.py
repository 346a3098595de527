"""Order services: create an order with its invoice, and read an order with its phases and activity."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers import address_policy
from fluxbilling.engine import activity
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases.deps import plain
from fluxbilling.orders.pipeline import PHASES, PROVISION_KIND

__all__ = ["create_order", "describe_order", "validate_hostname"]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


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
    db: Database, *, customer_email: str, customer_name: str, product_slug: str, hostname: str
) -> dict[str, Any]:
    """Create (or reuse) the customer, then the order and its unpaid invoice, in one transaction."""
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
                    status="unpaid",
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
    return {
        "order": {
            "id": order_id,
            "hostname": name,
            "state": lifecycle.ORDERS.initial.value,
            "product": product.slug,
        },
        "invoice": {
            "id": invoice_id,
            "amount_minor": product.price_minor,
            "currency": product.currency,
            "status": "unpaid",
        },
    }


async def describe_order(db: Database, order_id: int) -> dict[str, Any]:
    """The order, its run, each phase's status, its service (no secrets) and its activity."""
    t = schema
    async with db.connect() as conn:
        order = (await conn.execute(sa.select(t.orders).where(t.orders.c.id == order_id))).first()
        if order is None:
            raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)
        run = (
            await conn.execute(
                sa.select(t.runs).where(
                    t.runs.c.order_id == order_id, t.runs.c.kind == PROVISION_KIND
                )
            )
        ).first()
        checkpoints = (
            (
                await conn.execute(
                    sa.select(t.phase_checkpoints).where(t.phase_checkpoints.c.run_id == run.id)
                )
            ).all()
            if run
            else []
        )
        service = (
            await conn.execute(sa.select(t.services).where(t.services.c.order_id == order_id))
        ).first()
        invoice = (
            await conn.execute(sa.select(t.invoices).where(t.invoices.c.order_id == order_id))
        ).first()
        events = (
            await conn.execute(
                sa.select(t.activity_log)
                .where(t.activity_log.c.order_id == order_id)
                .order_by(t.activity_log.c.id)
            )
        ).all()
    by_phase = {c.phase: c for c in checkpoints}
    phases = []
    for phase in PHASES:
        checkpoint = by_phase.get(phase.value)
        status = checkpoint.status if checkpoint else "pending"
        if (
            run
            and run.phase == phase.value
            and run.state not in ("completed",)
            and status != "done"
        ):
            status = {"failed": "failed", "cancelled": "cancelled"}.get(
                run.state, "running" if run.state == "running" else "waiting"
            )
        phases.append(
            {
                "phase": phase.value,
                "status": status,
                "output": plain(checkpoint.output)
                if checkpoint and checkpoint.status == "done"
                else None,
            }
        )
    service_doc = None
    if service is not None:
        service_doc = plain(
            {k: v for k, v in service._mapping.items() if k != "root_password_sealed"}
        )
        service_doc["has_credentials"] = service.root_password_sealed is not None
    return {
        "id": order.id,
        "hostname": order.hostname,
        "state": order.state,
        "invoice": plain(dict(invoice._mapping)) if invoice else None,
        "run": _run_doc(run) if run else None,
        "phases": phases,
        "service": service_doc,
        "activity": [
            {
                "id": e.id,
                "at": e.created_at.isoformat(),
                "event": e.event,
                "phase": e.phase,
                "message": e.message,
                "data": e.data,
            }
            for e in events
        ],
    }


def _run_doc(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "phase": run.phase,
        "attempt": run.attempt,
        "next_run_at": run.next_run_at.isoformat(),
        "wait_reason": run.wait_reason,
        "lease_owner": run.lease_owner,
        "last_error": run.last_error,
        "last_upstream": run.last_upstream,
    }
