"""The inputs of a flow test: the context it runs with, typed in or taken from a past run.

`test_context` completes what the builder sends into the context a phase would build: `options`
and `settings` as one object checked against the plugin's settings schema, the chosen
connection's public fields, an account name and credentials (generated when none are given;
always secret).

The builder also tests a flow with inputs "taken from a past run" (`past_inputs`): the same
context a phase builds
(`phases.operations.flow_context`: order, customer, product, options, service, allocation,
...) for that run's order, as stored now, plus `action` for an action run. Nothing secret
comes back: `credentials` and `cloud_init` are left out (a test gets fresh credentials), the
service's root password and the connection's secrets are masked wherever they appear, and
so is every value under a secret-looking key (`redaction.Redactor`).
"""

from __future__ import annotations

import json
import secrets as random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import schema
from fluxbilling.drivers import connections
from fluxbilling.jsontypes import JsonObject
from fluxbilling.orders import view as order_view
from fluxbilling.orders.phases.operations import flow_context
from fluxbilling.plugins.driver import check_settings
from fluxbilling.plugins.graph import LoadedPlugin
from fluxbilling.redaction import Redactor
from fluxbilling.vault import Vault, new_password

__all__ = ["PastInputs", "past_inputs", "test_context"]


def _account_name() -> str:
    return "fbt" + random.token_hex(3)[:5]


def test_context(
    plugin: LoadedPlugin,
    inputs: Mapping[str, Any],
    connection: Mapping[str, Any],
    *,
    password: Callable[[], str] = new_password,
    account_name: Callable[[], str] = _account_name,
) -> tuple[JsonObject, tuple[str, ...]]:
    """The flow context of a test, and its secrets (the credentials' values).

    Args:
        plugin: the plugin under test (its settings schema checks the options).
        inputs: the context parts given (`order`, `options`, `credentials`, ...).
        connection: the chosen connection's row (its public fields join the context).
        password: makes the password when no credentials are given.
        account_name: makes `account.username` when no account is given.

    Returns:
        The context, and the values to redact everywhere.

    Raises:
        errors.InvalidSettings: the options do not fit the plugin's settings schema
            (`details["problems"]` paths start with `inputs.options`).
    """
    context = {key: value for key, value in inputs.items() if value is not None}
    options = context.get("options", context.get("settings", {}))
    context["options"] = context["settings"] = options
    context["connection"] = connections.flow_fields(connection)
    context.setdefault("account", {"username": account_name()})
    credentials = context.pop("credentials", None)
    if not credentials:
        generated = password()
        credentials = {"root_password": generated, "password": generated}
    context["credentials"] = credentials
    try:
        check_settings(plugin, options, "test")
    except errors.InvalidSettings as exc:
        problems = [{**p, "path": f"inputs.{p['path']}"} for p in exc.details.get("problems", [])]
        raise errors.InvalidSettings(exc.message, problems=problems) from None
    return context, tuple(str(v) for v in credentials.values())


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
