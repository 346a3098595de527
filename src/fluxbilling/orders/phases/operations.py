"""Running a lifecycle verb for an order: the pinned driver, the operation's context, the outcome.

Phases reach drivers only through `run_verb` (which goes through `drivers.driver.call`, so a
driver is never asked for a verb it lacks); a `Failed` outcome is raised here, as the
classified error it carries, for the engine's retry policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fluxbilling.drivers import connections
from fluxbilling.drivers import driver as drivers
from fluxbilling.drivers.outcome import Failed
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Outcome
from fluxbilling.orders.phases.deps import PhaseDeps, plain
from fluxbilling.orders.view import OrderView
from fluxbilling.vault import new_password

__all__ = [
    "account_username",
    "flow_context",
    "pinned_driver",
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


def flow_context(view: OrderView, **extra: Any) -> dict[str, Any]:
    """The context a verb works on (no secrets: the connection row has none)."""
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
        "connection": connections.flow_fields(view.connection),
        "service": service_data,
        "allocation": allocation,
        "account": {"username": account_username(view.order_id)},
        **extra,
    }


async def root_password(deps: PhaseDeps, ctx: PhaseContext, view: OrderView) -> str:
    """The service's root (or account) password: generated and sealed once, under the lease."""
    sealed = view.service.get("root_password_sealed")
    if sealed:
        return deps.vault.open(sealed)
    kept = await deps.store.seal_password(ctx, view.service["id"], deps.vault.seal(new_password()))
    return deps.vault.open(kept)


async def pinned_driver(deps: PhaseDeps, ctx: PhaseContext, view: OrderView) -> drivers.Driver:
    """The driver version this order runs on; pinned (fenced) the first time it is asked for.

    The version pinned is the product's `plugin_version` when it names one, else the newest.
    """
    service = view.service
    slug = service.get("plugin_slug") or view.product["plugin_slug"]
    version = service.get("plugin_version")
    if version is None:
        wanted = view.product.get("plugin_version")
        chosen = int(wanted) if wanted else await deps.drivers.latest_version(slug)
        version = await deps.store.pin_driver(ctx.claim, service["id"], slug, chosen)
    return await deps.drivers.get(slug, int(version))


async def run_verb(
    ctx: PhaseContext,
    driver: drivers.Driver,
    verb: drivers.Verb,
    context: Mapping[str, Any],
    connection: str,
    *,
    secrets: Sequence[str] = (),
) -> Outcome:
    """Run `verb` on `driver` for the phase attempt `ctx`.

    Args:
        ctx: the phase attempt (correlation key, cursor, clock, exchange recorder).
        driver: the pinned driver.
        verb: the lifecycle verb.
        context: what the verb works on (see `flow_context`).
        connection: the product's connection name.
        secrets: values in `context` that are secret (a new root password): they are
            redacted from exchanges, errors and logs like the connection's own secrets.

    Raises:
        errors.FluxError: the driver failed; the error it classified.
    """
    operation = drivers.Operation(
        verb=verb,
        correlation_key=ctx.correlation_key,
        context=context,
        connection=connection,
        cursor=ctx.cursor,
        now=ctx.now,
        secrets=tuple(secrets),
        recorder=ctx.recorder,
    )
    outcome = await drivers.call(driver, operation)
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome
