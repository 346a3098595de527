"""Products: what a customer orders, and how it is provisioned (plan, plugin, place, price).

A product names its location, connection (the panel), plugin (with a version policy: a
pinned `plugin_version`, or None for the newest when a service is provisioned) and, for
VPS plans, its OS image; its `options` must fit the plugin's settings schema, checked the
way the provision phase checks them (`Driver.validate`), and the connection must be of the
type the plugin needs. `refund_policy` says what a full refund or a chargeback does to the
service (`orders.actions.RefundPolicy`). It is kept in `options.refund_policy`, where
`billing.reversals` reads it, unless it is the default `suspend`: a plugin whose settings
schema refuses unknown keys must list `refund_policy` for products with another policy.
Prices are integer minor units of an ISO 4217 currency.

Placement needs (`allocation.choice.Need`): `cpu_flags` and `host_tags` a host must have,
`cpu_model`, `storage_type` (the pool type its disk goes on), `region` (each optional),
`nic_mbps` reserved on the host, `max_per_host` (anti-affinity: at most this many services
of one customer on one host) and `placement_strategy` (spread or fill).

While a product has live orders (any not cancelled whose service is not terminated), the
fields running services depend on cannot change: `location`, `connection`, `plugin`,
`service_type`, and the resources `ram_mb`, `vcpus`, `disk_gb`, `nic_mbps` (terminating a
service gives back the product's resources to its host, so they must stay what was
reserved). Name, price, image, options, plugin version, refund policy, alarm, password
delivery the firewall policy (`network.firewall`, null for the defaults) and the addresses its
services get (`ipv4_address`, `ipv6_address`, `ipv6_routed`) may change:
they apply to new orders, installs and actions. A product with orders (any) cannot be
deleted: its orders keep it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.allocation.choice import Strategy
from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import (
    Kind,
    Names,
    Problem,
    Ref,
    count_of,
    counted,
    problem,
    reject,
    resolve,
)
from fluxbilling.db import schema
from fluxbilling.drivers.registry import DriverSource
from fluxbilling.network import firewall
from fluxbilling.orders.actions import RefundPolicy
from fluxbilling.orders.lifecycle import OrderState, ServiceState

__all__ = [
    "FROZEN_WHILE_LIVE",
    "PasswordDelivery",
    "ProductSpec",
    "ServiceType",
    "check",
    "kind",
    "live_orders",
]

FROZEN_WHILE_LIVE = (
    "location",
    "connection",
    "plugin",
    "service_type",
    "ram_mb",
    "vcpus",
    "disk_gb",
    "nic_mbps",
)
"""What cannot change while the product has live orders (see the module docstring)."""

_CURRENCY = re.compile(r"[A-Z]{3}")
_INT64_MAX = 2**63 - 1
_POLICY_KEY = "refund_policy"


class ServiceType(StrEnum):
    """What kind of service a product is (as a plugin's `serviceType`)."""

    VPS = "vps"
    SHARED = "shared"
    GAME = "game"
    BAREMETAL = "baremetal"


class PasswordDelivery(StrEnum):
    """How the welcome mail hands over the root password (`products.password_delivery`)."""

    MAIL = "mail"
    """In the mail itself."""
    REVEAL_LINK = "reveal_link"
    """A one-time, expiring link to reveal it."""


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """A product as an operator states it (see the module docstring)."""

    slug: str
    name: str
    service_type: ServiceType
    location: str
    connection: str
    plugin: str
    ram_mb: int
    vcpus: int
    disk_gb: int
    price_minor: int
    currency: str
    plugin_version: int | None = None
    image: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    refund_policy: RefundPolicy = RefundPolicy.SUSPEND
    alarm_after_minutes: int | None = None
    password_delivery: PasswordDelivery = PasswordDelivery.MAIL
    firewall: Mapping[str, Any] | None = None
    """The firewall policy's JSON form (`network.firewall`); None: the defaults."""
    cpu_flags: tuple[str, ...] = ()
    cpu_model: str | None = None
    storage_type: str | None = None
    region: str | None = None
    host_tags: tuple[str, ...] = ()
    nic_mbps: int = 0
    max_per_host: int | None = None
    placement_strategy: Strategy = Strategy.SPREAD
    ipv4_address: bool = True
    """Its services get an IPv4 address from our pools (`allocation.leases`)."""
    ipv6_address: bool = False
    """… an IPv6 address."""
    ipv6_routed: bool = False
    """… a routed IPv6 prefix (a /64 from a routed pool)."""


def check(spec: ProductSpec) -> list[Problem]:
    """The problems of `spec` that need no database (pure).

    Example:
        >>> check(ProductSpec("vps-2g", "VPS 2 GB", ServiceType.VPS, "ams1", "solusvm2",
        ...     "solusvm2", 2048, 2, 40, price_minor=1200, currency="eur"))
        [{'path': 'currency', 'message': 'must be an ISO 4217 code in capitals, e.g. EUR'}]
    """
    problems = rules.key("slug", spec.slug) + rules.name("name", spec.name)
    problems += rules.key("plugin", spec.plugin)
    for name in ("ram_mb", "vcpus", "disk_gb"):
        problems += rules.count(name, getattr(spec, name))
    if spec.plugin_version is not None:
        problems += rules.count("plugin_version", spec.plugin_version, minimum=1)
    if spec.alarm_after_minutes is not None:
        problems += rules.count("alarm_after_minutes", spec.alarm_after_minutes, minimum=1)
    if isinstance(spec.price_minor, bool) or not 0 <= spec.price_minor <= _INT64_MAX:
        problems.append(problem("price_minor", "must be an integer from 0 (minor units)"))
    if not _CURRENCY.fullmatch(spec.currency):
        problems.append(problem("currency", "must be an ISO 4217 code in capitals, e.g. EUR"))
    if _POLICY_KEY in spec.options:
        problems.append(problem(f"options.{_POLICY_KEY}", "is set by the refund_policy field"))
    if spec.firewall is not None:
        problems += [problem(p["path"], p["message"]) for p in firewall.problems(spec.firewall)]
    return problems + _placement_problems(spec)


def _placement_problems(spec: ProductSpec) -> list[Problem]:
    problems = rules.labels("cpu_flags", spec.cpu_flags) + rules.labels("host_tags", spec.host_tags)
    for name in ("storage_type", "region"):
        value = getattr(spec, name)
        if value is not None:
            problems += rules.key(name, value)
    if spec.cpu_model is not None:
        problems += rules.name("cpu_model", spec.cpu_model)
    problems += rules.count("nic_mbps", spec.nic_mbps)
    if spec.max_per_host is not None:
        problems += rules.count("max_per_host", spec.max_per_host, minimum=1)
    return problems


def _normalise(spec: ProductSpec) -> ProductSpec:
    """The firewall policy in its canonical form (every field, ports sorted), so a file that
    lists ports in another order, or leaves defaults out, changes nothing stored."""
    if spec.firewall is None:
        return spec
    return dataclasses.replace(spec, firewall=firewall.to_json(firewall.parse(spec.firewall)))


def _stored_options(spec: ProductSpec) -> dict[str, Any]:
    """The options column: the options, plus the refund policy unless it is the default
    (a plugin whose settings schema refuses unknown keys sees no key it did not ask for)."""
    if spec.refund_policy == RefundPolicy.SUSPEND:
        return dict(spec.options)
    return {**spec.options, _POLICY_KEY: str(spec.refund_policy)}


async def _plugin_problems(
    plugins: DriverSource, spec: ProductSpec, connection_type: str | None
) -> list[Problem]:
    """What the plugin says of the product: it exists (at the version), fits the connection
    and accepts the options, as the provision phase will check them."""
    where = "plugin" if spec.plugin_version is None else "plugin_version"
    try:
        driver = await plugins.get(spec.plugin, spec.plugin_version)
    except errors.NotFound as exc:
        return [problem(where, exc.message)]
    problems = []
    wanted = driver.connection_type
    if wanted is not None and connection_type != wanted:
        problems.append(
            problem(
                "connection",
                f"plugin {spec.plugin} needs a {wanted!r} connection; "
                f"{spec.connection} is {connection_type!r}",
            )
        )
    try:
        driver.validate(_stored_options(spec), spec.slug)
    except errors.InvalidSettings as exc:
        found = exc.details.get("problems")
        problems += found if isinstance(found, list) else [problem("options", exc.message)]
    return problems


def kind(plugins: DriverSource) -> Kind[ProductSpec]:
    """Products, for `records`, checked against `plugins` (the driver registry)."""

    async def values(names: Names, spec: ProductSpec) -> dict[str, Any]:
        ids = await resolve(
            names,
            "product",
            [
                Ref("location", "location", schema.locations, "code", spec.location),
                Ref("connection", "connection", schema.connections, "name", spec.connection),
                Ref("image", "image", schema.images, "slug", spec.image),
            ],
        )
        connections = schema.connections
        query = sa.select(connections.c.type).where(connections.c.id == ids["connection"])
        connection_type = (await names.conn.execute(query)).scalar_one()
        reject("product", await _plugin_problems(plugins, spec, connection_type))
        return {
            "slug": spec.slug,
            "name": spec.name,
            "service_type": str(spec.service_type),
            "location_id": ids["location"],
            "image_id": ids["image"],
            "connection_id": ids["connection"],
            "plugin_slug": spec.plugin,
            "plugin_version": spec.plugin_version,
            "ram_mb": spec.ram_mb,
            "vcpus": spec.vcpus,
            "disk_gb": spec.disk_gb,
            "price_minor": spec.price_minor,
            "currency": spec.currency,
            "options": _stored_options(spec),
            "alarm_after_minutes": spec.alarm_after_minutes,
            "password_delivery": str(spec.password_delivery),
            "firewall": None if spec.firewall is None else dict(spec.firewall),
            "cpu_flags": list(spec.cpu_flags),
            "cpu_model": spec.cpu_model,
            "storage_type": spec.storage_type,
            "region": spec.region,
            "host_tags": list(spec.host_tags),
            "nic_mbps": spec.nic_mbps,
            "max_per_host": spec.max_per_host,
            "placement_strategy": str(spec.placement_strategy),
            "ipv4_address": spec.ipv4_address,
            "ipv6_address": spec.ipv6_address,
            "ipv6_routed": spec.ipv6_routed,
        }

    return Kind(
        entity="product",
        table=schema.products,
        key="slug",
        check=check,
        normalise=_normalise,
        to_values=values,
        to_spec=_spec,
        users=counted((schema.orders.c.product_id, "order")),
        guard=_guard,
    )


async def _spec(names: Names, row: Any) -> ProductSpec:
    options = dict(row.options or {})
    policy = options.pop(_POLICY_KEY, None) or RefundPolicy.SUSPEND
    return ProductSpec(
        slug=row.slug,
        name=row.name,
        service_type=ServiceType(row.service_type),
        location=await names.key_of(schema.locations, "code", row.location_id) or "",
        connection=await names.key_of(schema.connections, "name", row.connection_id) or "",
        plugin=row.plugin_slug,
        plugin_version=row.plugin_version,
        image=await names.key_of(schema.images, "slug", row.image_id),
        ram_mb=row.ram_mb,
        vcpus=row.vcpus,
        disk_gb=row.disk_gb,
        price_minor=row.price_minor,
        currency=row.currency,
        options=options,
        refund_policy=RefundPolicy(policy),
        alarm_after_minutes=row.alarm_after_minutes,
        password_delivery=PasswordDelivery(row.password_delivery),
        firewall=row.firewall,
        cpu_flags=tuple(row.cpu_flags or ()),
        cpu_model=row.cpu_model,
        storage_type=row.storage_type,
        region=row.region,
        host_tags=tuple(row.host_tags or ()),
        nic_mbps=row.nic_mbps,
        max_per_host=row.max_per_host,
        placement_strategy=Strategy(row.placement_strategy),
        ipv4_address=row.ipv4_address,
        ipv6_address=row.ipv6_address,
        ipv6_routed=row.ipv6_routed,
    )


async def live_orders(conn: AsyncConnection, product_id: int) -> int:
    """Orders of the product that are not cancelled and whose service is not terminated."""
    orders, services = schema.orders, schema.services
    query = (
        sa.select(sa.func.count())
        .select_from(orders.outerjoin(services, services.c.order_id == orders.c.id))
        .where(
            orders.c.product_id == product_id,
            orders.c.state != OrderState.CANCELLED,
            sa.or_(services.c.status.is_(None), services.c.status != ServiceState.TERMINATED),
        )
    )
    return int((await conn.execute(query)).scalar_one())


async def _guard(
    conn: AsyncConnection, row: Any, old: ProductSpec, new: ProductSpec
) -> list[Problem]:
    changed = [name for name in FROZEN_WHILE_LIVE if getattr(old, name) != getattr(new, name)]
    if not changed:
        return []
    live = await live_orders(conn, row.id)
    if not live:
        return []
    runs = "runs" if live == 1 else "run"
    reason = f"{count_of(live, 'live order')} {runs} on it; create a new product instead"
    return [problem(name, reason) for name in changed]
