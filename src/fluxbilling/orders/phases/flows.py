"""Running a plugin verb for an order: the pinned plugin, its connections and the flow context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import sqlalchemy as sa

from fluxbilling import errors, logs
from fluxbilling.db import schema
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Outcome
from fluxbilling.orders.phases.deps import PhaseDeps, plain
from fluxbilling.orders.view import OrderView
from fluxbilling.plugins import LoadedPlugin, run_flow
from fluxbilling.vault import new_password

__all__ = [
    "account_username",
    "check_settings",
    "flow_context",
    "pinned_plugin",
    "root_password",
    "run_verb",
]


def account_username(order_id: int) -> str:
    """A panel account name for an order: `fb` + the id in base 36, padded to 8 characters.

    Valid for cPanel (lowercase, starts with a letter, <= 16 characters, unique in its first
    eight characters up to 36**6 orders) and for Pterodactyl and Virtualizor.

    Example:
        >>> account_username(42)
        'fb000016'
    """
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    value = order_id
    while value:
        value, rest = divmod(value, 36)
        text = digits[rest] + text
    return "fb" + text.rjust(6, "0")


def flow_context(view: OrderView, ctx: PhaseContext, **extra: Any) -> dict[str, Any]:
    """The template context a flow sees (no secrets: the connection row has none)."""
    product = plain(view.product)
    service_data = plain(view.service.get("service_data") or {})
    # A resize action keeps the new plan's options on the service; later flows see them.
    options = {**(product.get("options") or {}), **(service_data.get("plan_options") or {})}
    allocation = {
        "address": view.address.get("address"),
        "host": view.host.get("name"),
        "host_ref": view.host.get("external_ref"),
        "gateway": view.subnet.get("gateway"),
        "cidr": view.subnet.get("cidr"),
    }
    return {
        "order": plain(view.order),
        "customer": plain(view.customer),
        "product": product,
        "options": options,
        "settings": options,
        "image": plain(view.image),
        "location": plain(view.location),
        "connection": _connection_context(view.connection),
        "service": service_data,
        "allocation": allocation,
        "account": {"username": account_username(view.order_id)},
        "correlation_id": ctx.correlation_key,
        **extra,
    }


def _connection_context(connection: Mapping[str, Any]) -> dict[str, Any]:
    """The connection's non-secret fields, plus its `origin` and `host` for building URLs."""
    base = str(connection.get("base_url") or "")
    parts = urlsplit(base)
    return {
        "name": connection.get("name"),
        "type": connection.get("type"),
        "base_url": base,
        "origin": f"{parts.scheme}://{parts.netloc}" if parts.netloc else "",
        "host": parts.hostname or "",
    }


async def root_password(deps: PhaseDeps, ctx: PhaseContext, view: OrderView) -> str:
    """The service's root (or account) password: generated and sealed once, under the lease."""
    sealed = view.service.get("root_password_sealed")
    if sealed:
        return deps.vault.open(sealed)
    candidate = new_password()
    services = schema.services
    async with deps.store.fenced(ctx.claim) as conn:
        await conn.execute(
            services.update()
            .where(services.c.id == view.service["id"], services.c.root_password_sealed.is_(None))
            .values(root_password_sealed=deps.vault.seal(candidate))
        )
        stored = (
            await conn.execute(
                sa.select(services.c.root_password_sealed).where(
                    services.c.id == view.service["id"]
                )
            )
        ).scalar_one()
        await ctx.record(
            conn,
            "credentials_sealed",
            "password generated and sealed with the installation key",
        )
    return deps.vault.open(stored)


def check_settings(plugin: LoadedPlugin, options: Mapping[str, Any], product: str) -> None:
    """Check a product's options against the plugin's settings schema.

    Raises:
        errors.InvalidSettings: naming every option that is missing or wrong.
    """
    schema_doc = plugin.document.plugin.settings
    if not schema_doc:
        return
    validator = jsonschema.Draft202012Validator(schema_doc)
    problems = [
        {
            "path": "options" + "".join(f".{p}" for p in error.absolute_path),
            "message": error.message,
        }
        for error in sorted(validator.iter_errors(dict(options)), key=lambda e: list(e.path))
    ]
    if problems:
        raise errors.InvalidSettings(
            f"product {product}: options do not fit plugin {plugin.slug}@{plugin.version}: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            problems=problems,
        )


async def pinned_plugin(deps: PhaseDeps, ctx: PhaseContext, view: OrderView) -> LoadedPlugin:
    """The plugin version this order runs on; pinned (fenced) the first time it is asked for."""
    service = view.service
    slug = service.get("plugin_slug") or view.product["plugin_slug"]
    version = service.get("plugin_version")
    if version is None:
        version = await deps.plugins.latest_version(slug)
        async with deps.store.fenced(ctx.claim) as conn:
            await conn.execute(
                schema.services.update()
                .where(
                    schema.services.c.id == service["id"],
                    schema.services.c.plugin_version.is_(None),
                )
                .values(plugin_slug=slug, plugin_version=version)
            )
            row = (
                await conn.execute(
                    sa.select(schema.services.c.plugin_version).where(
                        schema.services.c.id == service["id"]
                    )
                )
            ).scalar_one()
            version = int(row)
    return await deps.plugins.get(slug, int(version))


def _connection_names(plugin: LoadedPlugin, verb: str, default: str) -> set[str]:
    names = {default}
    for node in plugin.flow(verb).model_dump()["nodes"]:
        name = node.get("connection")
        if isinstance(name, str) and name and "{{" not in name:
            names.add(name)
    return names


async def run_verb(
    deps: PhaseDeps,
    ctx: PhaseContext,
    plugin: LoadedPlugin,
    verb: str,
    context: Mapping[str, Any],
    default_connection: str,
    *,
    secrets: Sequence[str] = (),
) -> Outcome:
    """Run `verb`'s flow with a client per connection the flow names.

    Args:
        deps: the adapters.
        ctx: the phase attempt.
        plugin: the pinned plugin.
        verb: the flow to run.
        context: the template context (see `flow_context`).
        default_connection: the connection of nodes that name none (the product's).
        secrets: values in `context` that are secret (a new root password): they are
            redacted from exchanges, errors and logs like the connection's own secrets.
    """
    clients: dict[str, UpstreamHttp] = {}
    logs.register_secret(*secrets, recent=True)
    try:
        for name in _connection_names(plugin, verb, default_connection):
            client = await deps.connections.client(name, ctx.recorder)
            client.redactor = client.redactor.with_secrets(secrets)
            clients[name] = client

        def http(name: str) -> UpstreamHttp:
            if name not in clients:
                raise errors.InvalidSettings(
                    f"plugin {plugin.slug} names unknown connection {name!r}"
                )
            return clients[name]

        return await run_flow(
            plugin,
            verb,
            context,
            http,
            ctx.cursor,
            now=ctx.now,
            default_connection=default_connection,
        )
    finally:
        for client in clients.values():
            await client.aclose()
