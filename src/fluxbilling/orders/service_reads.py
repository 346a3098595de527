"""Services as the operator reads them: a filtered page, newest first, and one service with
the lifecycle verbs its plugin offers and those its state allows now.

The list is one statement per page: services joined with their order, product and host,
filtered, `ORDER BY services.id DESC LIMIT n + 1` below the cursor (the state filter has its
own index, `ix_services_status_id`). Free text (`q`) matches a hostname substring,
case-insensitively, with `%` and `_` taken literally; a number also matches the service's or
the order's id.

A verb is *offered* when the plugin's newest version declares its capability and can run it
(a request pins the newest version), and *allowed* when it is offered, the service's state
is one the verb starts from (`actions.ALLOWED_FROM`) and no other action of the service is
queued or running: the same rules `actions.request_action` enforces, so a button the console
shows is one the API accepts. The sealed root password is never read out, only whether it
exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.jsontypes import JsonObject
from fluxbilling.orders import actions
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.vault import Vault

__all__ = [
    "Address",
    "ServiceDetail",
    "ServiceFilter",
    "ServicePage",
    "ServiceSummary",
    "VerbState",
    "describe_service",
    "list_services",
    "verb_states",
]

RECENT_ACTIONS = 20
"""How many of a service's newest actions its detail carries."""


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    """What to list (every field optional; all given ones must match)."""

    state: ServiceState | None = None
    product: str | None = None
    """A product slug."""
    plugin: str | None = None
    """A plugin slug."""
    host: str | None = None
    """A host's name."""
    q: str | None = None
    """A substring of the hostname, or the service's or the order's id."""


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """One service in the list."""

    id: int
    order_id: int
    hostname: str
    state: ServiceState
    product: str
    plugin: str | None
    host: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ServicePage:
    """A page of services and the cursor of the next one (None: the last page)."""

    items: tuple[ServiceSummary, ...]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class Address:
    """An address the service holds (or its order reserved)."""

    address: str
    subnet: str
    gateway: str
    state: str


@dataclass(frozen=True, slots=True)
class VerbState:
    """One lifecycle verb: whether the plugin offers it and whether it may start now."""

    verb: str
    offered: bool
    allowed: bool
    refusal: str | None
    """Why it may not start now (None: it may)."""


@dataclass(frozen=True, slots=True)
class ServiceDetail:
    """One service with everything an operator looks at (no secrets)."""

    id: int
    order_id: int
    order_state: OrderState
    hostname: str
    state: ServiceState
    product: str
    plugin: str | None
    host_id: int | None
    host: str | None
    external_id: str | None
    service_data: JsonObject
    addresses: tuple[Address, ...]
    has_credentials: bool
    capabilities: tuple[str, ...]
    verbs: tuple[VerbState, ...]
    running_action_id: int | None
    actions: tuple[dict[str, Any], ...]
    created_at: datetime
    updated_at: datetime


def _plugin(slug: str | None, version: int | None) -> str | None:
    return f"{slug}@{version}" if slug and version is not None else slug


def _query(where: ServiceFilter) -> sa.Select[Any]:
    t = schema
    query = (
        sa.select(
            t.services.c.id,
            t.services.c.order_id,
            t.services.c.status,
            t.services.c.plugin_slug,
            t.services.c.plugin_version,
            t.services.c.created_at,
            t.services.c.updated_at,
            t.orders.c.hostname,
            t.products.c.slug.label("product"),
            t.hosts.c.name.label("host"),
        )
        .select_from(t.services)
        .join(t.orders, t.orders.c.id == t.services.c.order_id)
        .join(t.products, t.products.c.id == t.orders.c.product_id)
        .outerjoin(t.hosts, t.hosts.c.id == t.services.c.host_id)
    )
    if where.state is not None:
        query = query.where(t.services.c.status == where.state.value)
    if where.product is not None:
        query = query.where(t.products.c.slug == where.product)
    if where.plugin is not None:
        query = query.where(t.services.c.plugin_slug == where.plugin)
    if where.host is not None:
        query = query.where(t.hosts.c.name == where.host)
    if where.q is not None:
        text = sa.func.lower(t.orders.c.hostname).contains(where.q.lower(), autoescape=True)
        digits = where.q.strip()
        if digits.isdecimal() and len(digits) < 19:
            number = int(digits)
            text = sa.or_(text, t.services.c.id == number, t.services.c.order_id == number)
        query = query.where(text)
    return query


async def list_services(
    db: Database, where: ServiceFilter, *, limit: int, cursor: int | None
) -> ServicePage:
    """A page of services matching `where`, newest first, below `cursor` (a service id)."""
    services = schema.services
    query = _query(where).order_by(services.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(services.c.id < cursor)
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = tuple(
        ServiceSummary(
            id=r.id,
            order_id=r.order_id,
            hostname=r.hostname,
            state=ServiceState(r.status),
            product=r.product,
            plugin=_plugin(r.plugin_slug, r.plugin_version),
            host=r.host,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows[:limit]
    )
    return ServicePage(items, rows[limit - 1].id if len(rows) > limit else None)


def verb_states(
    service_id: int,
    state: ServiceState,
    offered: frozenset[str],
    running: Any,
    *,
    plugin: str,
    unavailable: str | None = None,
) -> tuple[VerbState, ...]:
    """Each lifecycle verb (in `actions.ALLOWED_FROM`'s order): offered, allowed, and why not.

    Args:
        service_id: the service (for the refusals' wording).
        state: its status.
        offered: the verbs its plugin offers.
        running: its action that is queued or running (`actions.in_flight`), or None.
        plugin: `slug@version` of the plugin asked (for the refusals' wording).
        unavailable: why no verb applies at all (no plugin yet, the plugin is gone).

    Example:
        >>> [v.verb for v in verb_states(1, ServiceState.SUSPENDED, frozenset({"unsuspend",
        ...     "suspend"}), None, plugin="p@1") if v.allowed]
        ['unsuspend']
    """
    found = []
    for verb in actions.ALLOWED_FROM:
        refusal: str | None
        if unavailable is not None:
            refusal = unavailable
        elif verb not in offered:
            refusal = f"plugin {plugin} does not offer {verb}"
        else:
            refusal = actions.state_refusal(verb, service_id, state)
            if refusal is None and running is not None:
                refusal = actions.busy_refusal(service_id, running)
        found.append(VerbState(verb, verb in offered, refusal is None, refusal))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _Offer:
    """What the newest version of a service's plugin offers."""

    plugin: str
    verbs: frozenset[str] = frozenset()
    capabilities: tuple[str, ...] = ()
    unavailable: str | None = None


async def _offer(registry: DriverRegistry, service_id: int, slug: str | None) -> _Offer:
    if not slug:
        return _Offer("", unavailable=f"service {service_id} has not been provisioned yet")
    try:
        driver = await registry.get(slug)
    except errors.NotFound:
        return _Offer(slug, unavailable=f"plugin {slug} is not installed")
    verbs = frozenset(v for v in actions.ALLOWED_FROM if actions.offers(driver, v))
    return _Offer(f"{driver.slug}@{driver.version}", verbs, tuple(sorted(driver.capabilities)))


async def describe_service(
    db: Database, registry: DriverRegistry, vault: Vault, service_id: int
) -> ServiceDetail:
    """One service: its order, product, plugin, host, addresses, verbs and recent actions.

    Raises:
        errors.NotFound: no such service.
    """
    t = schema
    async with db.connect() as conn:
        row = (
            await conn.execute(
                sa.select(
                    t.services,
                    t.orders.c.hostname,
                    t.orders.c.state.label("order_state"),
                    t.products.c.slug.label("product"),
                    t.hosts.c.name.label("host"),
                )
                .join(t.orders, t.orders.c.id == t.services.c.order_id)
                .join(t.products, t.products.c.id == t.orders.c.product_id)
                .outerjoin(t.hosts, t.hosts.c.id == t.services.c.host_id)
                .where(t.services.c.id == service_id)
            )
        ).first()
        if row is None:
            raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)
        addresses = (
            await conn.execute(
                sa.select(
                    t.ip_addresses.c.address,
                    t.ip_addresses.c.state,
                    t.subnets.c.cidr,
                    t.subnets.c.gateway,
                )
                .join(t.subnets, t.subnets.c.id == t.ip_addresses.c.subnet_id)
                .where(
                    sa.or_(
                        t.ip_addresses.c.service_id == service_id,
                        t.ip_addresses.c.order_id == row.order_id,
                    )
                )
                .order_by(t.ip_addresses.c.id)
            )
        ).all()
        running = await actions.in_flight(conn, service_id)
    offer = await _offer(registry, service_id, row.plugin_slug)
    state = ServiceState(row.status)
    recent = await actions.list_actions(db, vault, service_id, limit=RECENT_ACTIONS)
    return ServiceDetail(
        id=row.id,
        order_id=row.order_id,
        order_state=OrderState(row.order_state),
        hostname=row.hostname,
        state=state,
        product=row.product,
        plugin=_plugin(row.plugin_slug, row.plugin_version),
        host_id=row.host_id,
        host=row.host,
        external_id=row.external_id,
        service_data=row.service_data,
        addresses=tuple(Address(a.address, a.cidr, a.gateway, a.state) for a in addresses),
        has_credentials=row.root_password_sealed is not None,
        capabilities=offer.capabilities,
        verbs=verb_states(
            service_id,
            state,
            offer.verbs,
            running,
            plugin=offer.plugin,
            unavailable=offer.unavailable,
        ),
        running_action_id=None if running is None else int(running.id),
        actions=tuple(recent),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
