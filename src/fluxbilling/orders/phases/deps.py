"""What the phases need from the outside world, wired once by `bootstrap`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.drivers.connections import ConnectionFactory
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import RunStore
from fluxbilling.handoff.mail import Mailer
from fluxbilling.network.rdns import RdnsBackend
from fluxbilling.orders import lifecycle
from fluxbilling.orders import view as order_view
from fluxbilling.plugins.manager import PluginManager
from fluxbilling.vault import Vault

__all__ = ["PhaseDeps", "merge_service_data", "plain", "transition_source"]


@dataclass(frozen=True, slots=True)
class PhaseDeps:
    """The adapters the phase handlers use."""

    db: Database
    store: RunStore
    vault: Vault
    plugins: PluginManager
    connections: ConnectionFactory
    rdns: RdnsBackend
    mailer: Mailer
    mail_from: str
    support_team: str = "The FluxBilling hosting team"

    async def view(self, order_id: int) -> order_view.OrderView:
        """Load an order and its neighbours."""
        async with self.db.connect() as conn:
            return await order_view.load(conn, order_id)


def plain(value: Any) -> Any:
    """A JSON-safe copy of row data (datetimes as ISO strings, bytes dropped)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def merge_service_data(
    conn: AsyncConnection, service_id: int, patch: Mapping[str, Any], **columns: Any
) -> None:
    """Merge `patch` into a service's `service_data` and set `columns`, in the caller's transaction.

    The service's status is not a column here: `orders.lifecycle` is its only writer.
    """
    if "status" in columns:
        raise errors.InvariantViolation("services.status is written by orders.lifecycle only")
    services = schema.services
    current = (
        await conn.execute(sa.select(services.c.service_data).where(services.c.id == service_id))
    ).scalar_one()
    await conn.execute(
        services.update()
        .where(services.c.id == service_id)
        .values(
            service_data={**(current or {}), **plain(dict(patch))},
            updated_at=sa.func.now(),
            **columns,
        )
    )


def transition_source(ctx: PhaseContext) -> lifecycle.Source:
    """The run, phase, lease and worker of `ctx`, for a lifecycle transition's activity row."""
    claim = ctx.claim
    return lifecycle.Source(claim.run_id, claim.phase, claim.lease_token, claim.worker)
