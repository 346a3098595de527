"""Lifecycle actions on a service: request one (durably, through the engine) and read them back.

A request is checked before anything is stored, then inserted together with its run (kind
`action`, one phase) in one transaction, so an action is either fully queued or not at all:

- the verb must be a lifecycle verb, the service's driver must declare the capability and
  be able to run the verb (checked against the newest version, which the action pins);
- the service must be in a state the verb applies to (`ALLOWED_FROM`);
- only one action per service runs at a time (another one queued or running is a conflict);
- an `idempotency_key` makes a repeated request return the first action instead of a new one.

`reset_password` generates the new password here and seals it on the action; the service's
credentials change only when the panel has confirmed (`phases.action`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers import driver as drivers
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders import lifecycle
from fluxbilling.orders.pipeline import ACTION_KIND, Phase, RunState
from fluxbilling.vault import Vault, new_password

__all__ = [
    "ALLOWED_FROM",
    "RESULT_EVENT",
    "RefundPolicy",
    "busy_refusal",
    "describe_action",
    "in_flight",
    "list_actions",
    "offers",
    "request_action",
    "seal_result",
    "state_refusal",
]


class RefundPolicy(StrEnum):
    """What a full refund or a chargeback does to the service (a product's `refund_policy`,
    kept in its `options`; applied by `billing.reversals`)."""

    SUSPEND = "suspend"
    """The default: a suspend action (the run is cancelled if provisioning has not ended)."""
    TERMINATE = "terminate"
    """A terminate action (likewise)."""
    NONE = "none"
    """Recorded only."""


_ACTIVE, _SUSPENDED = lifecycle.ServiceState.ACTIVE, lifecycle.ServiceState.SUSPENDED
ALLOWED_FROM: dict[str, frozenset[lifecycle.ServiceState]] = {
    "suspend": frozenset({_ACTIVE}),
    "unsuspend": frozenset({_SUSPENDED}),
    "terminate": frozenset({_ACTIVE, _SUSPENDED}),
    "reinstall": frozenset({_ACTIVE}),
    "resize": frozenset({_ACTIVE}),
    "reset_password": frozenset({_ACTIVE}),
    "console": frozenset({_ACTIVE}),
    "stats": frozenset({_ACTIVE, _SUSPENDED}),
}
"""The service statuses each verb may start from."""

RESULT_EVENT: dict[str, lifecycle.ServiceEvent | None] = {
    "suspend": lifecycle.ServiceEvent.SUSPENDED,
    "unsuspend": lifecycle.ServiceEvent.UNSUSPENDED,
    "terminate": lifecycle.ServiceEvent.TERMINATED,
    "reinstall": lifecycle.ServiceEvent.REINSTALLED,
    "resize": lifecycle.ServiceEvent.RESIZED,
    "reset_password": None,
    "console": None,
    "stats": None,
}
"""The lifecycle event each verb's success is (`None`: the service's status is unchanged)."""

actions = schema.service_actions


def _check_verb(verb: str) -> None:
    if verb not in drivers.VERBS or verb == drivers.Verb.PROVISION:
        known = ", ".join(sorted(ALLOWED_FROM))
        raise errors.InvalidSettings(f"unknown lifecycle action {verb!r} ({known})", verb=verb)


def _check_params(verb: str, params: Mapping[str, Any]) -> None:
    if verb == "resize" and not isinstance(params.get("options"), Mapping):
        raise errors.InvalidSettings(
            'resize needs params.options: the new plan\'s options (e.g. {"plan_id": 3})',
            verb=verb,
        )


async def _service(conn: AsyncConnection, service_id: int, *, lock: bool) -> Any:
    query = sa.select(schema.services).where(schema.services.c.id == service_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)
    return row


def offers(driver: drivers.Driver, verb: str) -> bool:
    """Whether `driver` declares the capability of `verb` and can run it."""
    return drivers.capability_of(verb) in driver.capabilities and verb in driver.verbs


def state_refusal(verb: str, service_id: int, status: lifecycle.ServiceState) -> str | None:
    """Why a service in `status` may not start `verb` (`ALLOWED_FROM`), or None when it may.

    Examples:
        >>> state_refusal("suspend", 4, lifecycle.ServiceState.SUSPENDED)
        'cannot suspend service 4: it is suspended (allowed from: active)'
        >>> state_refusal("stats", 4, lifecycle.ServiceState.SUSPENDED) is None
        True
    """
    if status in ALLOWED_FROM[verb]:
        return None
    allowed = ", ".join(sorted(ALLOWED_FROM[verb]))
    return f"cannot {verb} service {service_id}: it is {status} (allowed from: {allowed})"


def busy_refusal(service_id: int, running: Any) -> str:
    """Why no action may start while `running` (an `in_flight` row) has not finished."""
    return (
        f"service {service_id} already has action {running.id} ({running.verb}) "
        f"{running.state}; wait for it to finish"
    )


async def in_flight(conn: AsyncConnection, service_id: int) -> Any:
    """The service's action that is queued or running (`id`, `verb`, `state`), or None."""
    return (
        await conn.execute(
            sa.select(actions.c.id, actions.c.verb, schema.runs.c.state)
            .join(schema.runs, schema.runs.c.id == actions.c.run_id)
            .where(
                actions.c.service_id == service_id,
                schema.runs.c.state.in_([RunState.QUEUED, RunState.RUNNING]),
            )
        )
    ).first()


async def _by_dedupe_key(conn: AsyncConnection, dedupe_key: str) -> int | None:
    found = (
        await conn.execute(
            sa.select(actions.c.id)
            .join(schema.runs, schema.runs.c.id == actions.c.run_id)
            .where(schema.runs.c.dedupe_key == dedupe_key)
        )
    ).scalar()
    return None if found is None else int(found)


async def request_action(
    db: Database,
    store: RunStore,
    registry: DriverRegistry,
    vault: Vault,
    *,
    service_id: int,
    verb: str,
    params: Mapping[str, Any] | None = None,
    actor: str,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Queue `verb` for a service (see the module docstring for the rules).

    Returns:
        The action (`describe_action`), with `"replayed": True` when the idempotency key
        matched an earlier request.

    Raises:
        errors.InvalidSettings: unknown verb, bad params, or the driver lacks the capability.
        errors.NotFound: no such service.
        errors.Conflict: the service's status does not allow the verb, or another action runs.
    """
    _check_verb(verb)
    params = dict(params or {})
    _check_params(verb, params)
    async with db.connect() as conn:
        service = await _service(conn, service_id, lock=False)
    if not service.plugin_slug:
        raise errors.Conflict(
            f"service {service_id} has not been provisioned by a plugin yet", service_id=service_id
        )
    driver = await registry.get(service.plugin_slug)
    capability = drivers.capability_of(verb)
    if not offers(driver, verb):
        raise errors.InvalidSettings(
            f"plugin {driver.slug}@{driver.version} cannot {verb}: it does not declare "
            f"{capability}",
            plugin=f"{driver.slug}@{driver.version}",
            capability=capability,
        )
    dedupe_key = f"{service.order_id}:action:{idempotency_key or uuid.uuid4().hex}"
    secret = vault.seal(new_password()) if verb == "reset_password" else None
    try:
        async with db.begin() as conn:
            replay = await _by_dedupe_key(conn, dedupe_key)
            if replay is not None:
                return {**await describe_action(conn, replay, vault), "replayed": True}
            service = await _service(conn, service_id, lock=not db.is_sqlite)
            refused = state_refusal(verb, service_id, lifecycle.ServiceState(service.status))
            if refused is not None:
                raise errors.Conflict(refused, service_id=service_id, status=service.status)
            running = await in_flight(conn, service_id)
            if running is not None:
                raise errors.Conflict(
                    busy_refusal(service_id, running),
                    service_id=service_id,
                    action_id=running.id,
                )
            run_id = await store.enqueue(
                conn,
                service.order_id,
                kind=ACTION_KIND,
                phase=Phase.ACTION,
                dedupe_key=dedupe_key,
            )
            action_id = (
                await conn.execute(
                    actions.insert()
                    .values(
                        service_id=service_id,
                        order_id=service.order_id,
                        run_id=run_id,
                        verb=verb,
                        params=json.loads(json.dumps(params, default=str)),
                        plugin_slug=driver.slug,
                        plugin_version=driver.version,
                        secret_sealed=secret,
                        requested_by=actor,
                        reason=reason,
                    )
                    .returning(actions.c.id)
                )
            ).scalar_one()
            await activity.record(
                conn,
                service.order_id,
                "action_requested",
                f"{actor} requested {verb}" + (f": {reason}" if reason else ""),
                run_id=run_id,
                phase=Phase.ACTION,
                data={"action_id": action_id, "verb": verb, "plugin": driver.slug},
            )
            await audit.record(
                conn,
                actor=actor,
                action="service.action",
                entity="service",
                entity_id=service_id,
                changes={"verb": verb, "action_id": action_id, "reason": reason},
            )
            return {**await describe_action(conn, int(action_id), vault), "replayed": False}
    except sa.exc.IntegrityError:
        # The same idempotency key raced us: the other request won, answer with its action.
        async with db.connect() as conn:
            replay = await _by_dedupe_key(conn, dedupe_key)
            if replay is None:
                raise
            return {**await describe_action(conn, replay, vault), "replayed": True}


SEALED = "sealed"
"""The key under which a result that holds a session credential is stored, sealed."""


def seal_result(vault: Vault, verb: str, result: Any) -> Any:
    """A result as stored: a console session (it grants access) sealed, others as they are."""
    if verb != "console" or result is None:
        return result
    return {SEALED: vault.seal(json.dumps(result))}


def _open_result(vault: Vault, result: Any) -> Any:
    if isinstance(result, dict) and set(result) == {SEALED}:
        return json.loads(vault.open(result[SEALED]))
    return result


async def describe_action(conn: AsyncConnection, action_id: int, vault: Vault) -> dict[str, Any]:
    """One action with its run's state, error and (opened) result; never its sealed password.

    Raises:
        errors.NotFound: no such action.
    """
    row = (
        await conn.execute(
            sa.select(
                actions,
                schema.runs.c.state,
                schema.runs.c.attempt,
                schema.runs.c.wait_reason,
                schema.runs.c.last_error,
                schema.runs.c.finished_at,
            )
            .join(schema.runs, schema.runs.c.id == actions.c.run_id)
            .where(actions.c.id == action_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(f"action {action_id} does not exist", action_id=action_id)
    return {
        "id": row.id,
        "service_id": row.service_id,
        "order_id": row.order_id,
        "run_id": row.run_id,
        "verb": row.verb,
        "params": row.params,
        "plugin": f"{row.plugin_slug}@{row.plugin_version}",
        "state": row.state,
        "attempt": row.attempt,
        "waiting_for": row.wait_reason,
        "error": row.last_error,
        "result": _open_result(vault, row.result),
        "requested_by": row.requested_by,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


async def list_actions(
    db: Database, vault: Vault, service_id: int, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest actions of a service, newest first.

    Raises:
        errors.NotFound: no such service.
    """
    async with db.connect() as conn:
        await _service(conn, service_id, lock=False)
        ids = (
            await conn.execute(
                sa.select(actions.c.id)
                .where(actions.c.service_id == service_id)
                .order_by(actions.c.id.desc())
                .limit(limit)
            )
        ).scalars()
        return [await describe_action(conn, int(i), vault) for i in list(ids)]
