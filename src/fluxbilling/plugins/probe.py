"""A plugin's `test` flow as the probe of "test connection", and which plugin's to use.

A connection type's built-in probe is one GET (`drivers.connection_types.Probe`); a panel
of type `http` is probed at its base URL, which some panels answer with 501. A plugin that
knows its panel declares a `test` flow instead, and `POST /api/v1/connections/{name}/test`
runs it (`for_connection` picks the plugin: the one asked for, else one used by a product
on that connection). The connection test keeps owning the client, so the upstream address
policy, redaction and the trimmed exchange are the same as for a built-in probe.

The flow runs once, to the end: it sees `connection` (name, type, base URL, origin, host)
and `correlation_id` (`connection-test:<name>`); finishing is a pass, any failure is a
verdict with its message, and a flow that wants to wait fails the test.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers.connections import flow_fields
from fluxbilling.drivers.outcome import Done, Pending
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.plugins.document import TEST_FLOW
from fluxbilling.plugins.driver import PluginVersions
from fluxbilling.plugins.graph import LoadedPlugin
from fluxbilling.plugins.interpreter import run_flow
from fluxbilling.plugins.trace import NO_OBSERVER, FlowObserver

__all__ = ["WANTS_TO_WAIT", "FlowProbe", "for_connection"]

WANTS_TO_WAIT = "the plugin's test flow wants to wait; a test must answer at once"
"""The verdict on a `test` flow that suspends (a `poll` or `wait` node)."""


class FlowProbe:
    """Runs `plugin`'s `test` flow through the connection test's client (a `CustomProbe`).

    Args:
        plugin: a loaded plugin with a `test` flow.
        connection: the connection's non-secret fields, as flows see them.
        now: the clock reading of the test.
        observer: told of each node (the builder's test of the flow traces them).
    """

    def __init__(
        self,
        plugin: LoadedPlugin,
        connection: Mapping[str, Any],
        now: datetime,
        *,
        observer: FlowObserver = NO_OBSERVER,
    ):
        self.plugin = plugin
        self.connection = dict(connection)
        self.now = now
        self.observer = observer

    @property
    def label(self) -> str:
        """`plugin <slug>@<version>, flow 'test'`."""
        return f"plugin {self.plugin.slug}@{self.plugin.version}, flow {TEST_FLOW!r}"

    async def run(self, client: UpstreamHttp) -> Done | Pending:
        """Run the flow through `client` once, as the connection test does.

        Raises:
            errors.FluxError: a node failed, or the flow reached another connection.
        """
        name = client.upstream

        def http(wanted: str) -> UpstreamHttp:
            if wanted != name:  # refused on save; a stored document is checked again here
                raise errors.InvalidFlow(f"a test flow tests connection {name!r} only")
            return client

        return await run_flow(
            self.plugin,
            TEST_FLOW,
            {"connection": self.connection, "correlation_id": f"connection-test:{name}"},
            http,
            None,
            now=self.now,
            default_connection=name,
            observer=self.observer,
        )

    async def __call__(self, client: UpstreamHttp) -> tuple[bool, str]:
        """Run the flow; `(True, ...)` when it finished.

        Raises:
            errors.UpstreamError: a node failed (the connection test reports it).
        """
        try:
            outcome = await self.run(client)
        except errors.UserError as exc:  # a template path the test flow lacks, and the like
            return False, f"the plugin's test flow is broken: {exc.message}"
        except errors.CapacityExhausted as exc:  # a classify rule said so: it answered
            return False, exc.message
        if not isinstance(outcome, Done):
            return False, WANTS_TO_WAIT
        return True, "the plugin's test flow passed"


async def for_connection(
    db: Database,
    plugins: PluginVersions,
    connection: str,
    slug: str | None,
    *,
    now: datetime,
) -> FlowProbe | None:
    """The probe for testing `connection`: a plugin's `test` flow, or `None` (the type's).

    Args:
        db: where connections and products live.
        plugins: the stored plugin versions (the newest is used).
        connection: the connection's name.
        slug: the plugin asked for; `None`: the first plugin (by slug) of a product on this
            connection whose newest version has a `test` flow.
        now: the clock reading of the test.

    Returns:
        The probe, or `None` when no plugin is asked for and none of the connection's
        products' plugins has a `test` flow.

    Raises:
        errors.NotFound: no such connection, or no plugin `slug`.
        errors.InvalidSettings: plugin `slug` has no `test` flow, or talks to another
            connection type.
    """
    async with db.connect() as conn:
        row = (
            await conn.execute(
                sa.select(schema.connections).where(schema.connections.c.name == connection)
            )
        ).first()
        if row is None:
            raise errors.NotFound(f"no connection named {connection!r}", connection=connection)
        used_by = (
            await conn.execute(
                sa.select(schema.products.c.plugin_slug)
                .where(schema.products.c.connection_id == row.id)
                .distinct()
                .order_by(schema.products.c.plugin_slug)
            )
        ).scalars()
        candidates = [str(s) for s in used_by]
    if slug is not None:
        plugin = await plugins.get(slug)
        _check_fits(plugin, row)
        return FlowProbe(plugin, flow_fields(dict(row._mapping)), now)
    for candidate in candidates:
        try:
            plugin = await plugins.get(candidate)
        except errors.NotFound:
            continue  # a native driver's slug, not a visual plugin
        if TEST_FLOW in plugin.document.flows:
            return FlowProbe(plugin, flow_fields(dict(row._mapping)), now)
    return None


def _check_fits(plugin: LoadedPlugin, row: Any) -> None:
    if TEST_FLOW not in plugin.document.flows:
        raise errors.InvalidSettings(
            f"plugin {plugin.slug}@{plugin.version} has no {TEST_FLOW!r} flow",
            plugin=plugin.slug,
        )
    kind = plugin.document.plugin.connection_type
    if kind is not None and kind != row.type:
        raise errors.InvalidSettings(
            f"plugin {plugin.slug} talks to {kind!r} connections; {row.name!r} is {row.type!r}",
            plugin=plugin.slug,
        )
