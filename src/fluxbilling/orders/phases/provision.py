"""Provision phase: the pinned plugin's `provision` flow creates the service (lookup before create).

The flow sees `credentials.password` (generated and sealed before the first attempt, the same on
every retry) for panels that set the root or account password at creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases.deps import PhaseDeps, merge_service_data, transition_source
from fluxbilling.orders.phases.flows import (
    check_settings,
    flow_context,
    pinned_plugin,
    root_password,
    run_verb,
)

__all__ = ["ProvisionPhase"]


class ProvisionPhase:
    """Creates the service at the provider through its visual plugin."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Run (or resume) the provision flow."""
        view = await self.deps.view(ctx.order_id)
        plugin = await pinned_plugin(self.deps, ctx, view)
        kind = view.connection.get("type")
        wanted = plugin.document.plugin.connection_type
        if wanted is not None and kind != wanted:
            raise errors.InvalidSettings(
                f"product {view.product['slug']} uses connection {view.connection['name']!r} "
                f"of type {kind!r}, but plugin {plugin.slug} needs a {wanted!r} connection",
                plugin=plugin.slug,
            )
        check_settings(plugin, view.product.get("options") or {}, view.product["slug"])
        # Panels that install the OS (or create an account) at creation need the password now.
        password = await root_password(self.deps, ctx, view)
        outcome = await run_verb(
            self.deps,
            ctx,
            plugin,
            "provision",
            flow_context(view, ctx, credentials={"root_password": password, "password": password}),
            view.connection["name"],
            secrets=[password],
        )
        if not isinstance(outcome, Done):
            return outcome
        service_data = dict(outcome.output.get("service_data") or {})
        return Done(
            {
                "plugin": f"{plugin.slug}@{plugin.version}",
                "service_id": view.service["id"],
                "service_data": service_data,
            }
        )

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Store the provider's ids on the service."""
        data = dict(done.output["service_data"])
        external = data.get("external_id")
        await merge_service_data(
            conn,
            done.output["service_id"],
            data,
            external_id=None if external is None else str(external),
        )
        entry = lifecycle.Entry(
            ctx.order_id,
            "service_provisioned",
            f"the provider's id is {external}",
            source=transition_source(ctx),
        )
        provisioned = lifecycle.service(
            done.output["service_id"], lifecycle.ServiceEvent.PROVISIONED
        )
        await lifecycle.transition(self.deps.db, conn, entry, provisioned)
        return done.output
