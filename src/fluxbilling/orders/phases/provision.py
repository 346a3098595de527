"""Provision phase: the pinned driver's `provision` verb creates the service (lookup before create).

The driver sees `credentials.password` (generated and sealed before the first attempt, the
same on every retry) for panels that set the root or account password at creation.

A driver failure counts against the order's host (`allocation.quarantine`: N in a row
quarantine it; a success resets the count). A permanent one re-allocates the order to the
next candidate host and provisions there, in the same attempt, while one has room; only
when none is left does the phase fail as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.drivers.driver import Verb
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.phases.operations import (
    flow_context,
    pinned_driver,
    root_password,
    run_verb,
)

__all__ = ["ProvisionPhase"]


class ProvisionPhase:
    """Creates the service at the provider through its driver."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Run (or resume) the provision verb; on a permanent driver failure, count it against
        the host (quarantined at the limit) and move the order to the next candidate."""
        while True:
            try:
                return await self._provision(ctx)
            except errors.PermanentUpstreamError as exc:
                # Only a permanent failure counts against the host: a transient one (a 5xx, a
                # timeout) is retried, and is usually the panel's, shared by all its hosts;
                # counting those would quarantine a whole panel's fleet during one outage.
                failure = await self.deps.store.provision_failed(
                    ctx,
                    exc.message,
                    quarantine_after=self.deps.host_quarantine_failures,
                    reallocate=True,
                )
                if failure.moved_to is None:
                    raise
                # A new host: the old one's cursor means nothing there.
                ctx = dataclasses.replace(ctx, cursor=None)

    async def _provision(self, ctx: PhaseContext) -> Outcome:
        view = await self.deps.store.view(ctx.order_id)
        driver = await pinned_driver(self.deps, ctx, view)
        kind = view.connection.get("type")
        wanted = driver.connection_type
        if wanted is not None and kind != wanted:
            raise errors.InvalidSettings(
                f"product {view.product['slug']} uses connection {view.connection['name']!r} "
                f"of type {kind!r}, but plugin {driver.slug} needs a {wanted!r} connection",
                plugin=driver.slug,
            )
        driver.validate(view.product.get("options") or {}, view.product["slug"])
        # Panels that install the OS (or create an account) at creation need the password now.
        password = await root_password(self.deps, ctx, view)
        outcome = await run_verb(
            ctx,
            driver,
            Verb.PROVISION,
            flow_context(view, credentials={"root_password": password, "password": password}),
            view.connection["name"],
            secrets=[password],
        )
        if not isinstance(outcome, Done):
            return outcome
        service_data = dict(outcome.output.get("service_data") or {})
        return Done(
            {
                "plugin": f"{driver.slug}@{driver.version}",
                "service_id": view.service["id"],
                "service_data": service_data,
            }
        )

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Store the provider's ids on the service."""
        writes = self.deps.store.writes(conn, ctx)
        host_id = (await writes.view(ctx.order_id)).service.get("host_id")
        if host_id is not None:
            await writes.host_succeeded(int(host_id))
        data = dict(done.output["service_data"])
        external = data.get("external_id")
        await writes.merge_service_data(
            done.output["service_id"],
            data,
            external_id=None if external is None else str(external),
        )
        await writes.transition(
            "service_provisioned",
            f"the provider's id is {external}",
            lifecycle.service(done.output["service_id"], lifecycle.ServiceEvent.PROVISIONED),
        )
        return done.output
