"""Running a plugin verb for an order: the pinned plugin, its connections and the flow context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors, logs
from fluxbilling.db import schema
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Outcome
from fluxbilling.orders.phases.deps import PhaseDeps, plain
from fluxbilling.orders.view import OrderView
from fluxbilling.plugins import LoadedPlugin, run_flow

__all__ = ["flow_context", "pinned_plugin", "run_verb"]


def flow_context(view: OrderView, ctx: PhaseContext, **extra: Any) -> dict[str, Any]:
    """The template context a flow sees (no secrets: the connection row has none)."""
    product = plain(view.product)
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
        "options": product.get("options") or {},
        "settings": product.get("options") or {},
        "image": plain(view.image),
        "location": plain(view.location),
        "connection": {
            k: v for k, v in plain(view.connection).items() if k in ("name", "type", "base_url")
        },
        "service": plain(view.service.get("service_data") or {}),
        "allocation": allocation,
        "correlation_id": ctx.correlation_key,
        **extra,
    }


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
    logs.register_secret(*secrets)
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
