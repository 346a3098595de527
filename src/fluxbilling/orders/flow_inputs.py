"""The flow context a past run worked on, rebuilt from stored data and redacted, to test a flow with.

The builder tests a flow with inputs "taken from a past run": the same context a phase builds
(`phases.operations.flow_context`: order, customer, product, options, service, allocation,
...) for that run's order, as stored now, plus `action` for an action run. Nothing secret
comes back: `credentials` and `cloud_init` are left out (a test gets fresh credentials), the
service's root password and the connection's secrets are masked wherever they appear, and
so is every value under a secret-looking key (`redaction.Redactor`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import schema
from fluxbilling.jsontypes import JsonObject
from fluxbilling.orders import view as order_view
from fluxbilling.orders.phases.operations import flow_context
from fluxbilling.redaction import Redactor
from fluxbilling.vault import Vault

__all__ = ["PastInputs", "past_inputs"]


@dataclass(frozen=True, slots=True)
class PastInputs:
    """A past run's flow context, redacted.

    Attributes:
        run_id: the run.
        order_id: its order.
        verb: the verb its driver ran (`provision` for a provisioning run).
        plugin: `slug@version` the service is pinned at (None before provisioning pinned one).
        connection: the name of the product's connection.
        inputs: the context, without secrets.
    """

    run_id: int
    order_id: int
    verb: str
    plugin: str | None
    connection: str | None
    inputs: JsonObject


def _secrets(vault: Vault, view: order_view.OrderView, connection_sealed: str | None) -> list[str]:
    found: list[str] = []
    sealed = view.service.get("root_password_sealed")
    if sealed:
        found.append(vault.open(sealed))
    if connection_sealed:
        found += [str(v) for v in json.loads(vault.open(connection_sealed)).values()]
    return found


async def past_inputs(conn: AsyncConnection, vault: Vault, run_id: int) -> PastInputs:
    """The redacted flow context of run `run_id`.

    Args:
        conn: a connection to read with.
        vault: opens the secrets to mask (they never leave this function).
        run_id: the run.

    Raises:
        errors.NotFound: no such run.
    """
    run = (await conn.execute(sa.select(schema.runs).where(schema.runs.c.id == run_id))).first()
    if run is None:
        raise errors.NotFound(f"run {run_id} does not exist", run_id=run_id)
    view = await order_view.load(conn, run.order_id)
    extra: dict[str, Any] = {}
    verb = "provision"
    if run.kind == "action":
        actions = schema.service_actions
        action = (await conn.execute(sa.select(actions).where(actions.c.run_id == run_id))).first()
        if action is not None:
            verb = action.verb
            extra["action"] = {
                "verb": action.verb,
                "params": dict(action.params or {}),
                "reason": action.reason,
            }
    sealed = None
    if view.connection:
        sealed = (
            await conn.execute(
                sa.select(schema.connections.c.secrets_sealed).where(
                    schema.connections.c.id == view.connection["id"]
                )
            )
        ).scalar()
    redactor = Redactor(_secrets(vault, view, sealed))
    context = flow_context(view, **extra)
    slug, version = view.service.get("plugin_slug"), view.service.get("plugin_version")
    return PastInputs(
        run_id=run_id,
        order_id=run.order_id,
        verb=verb,
        plugin=f"{slug}@{version}" if slug and version else None,
        connection=view.connection.get("name"),
        inputs=redactor.value(context),
    )
