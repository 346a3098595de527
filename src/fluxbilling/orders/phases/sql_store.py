"""`SqlPhaseStore`: the phases' port (`store.PhaseStore`) over our database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.allocation import reservation
from fluxbilling.db import Database, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import Claim, RunStore
from fluxbilling.handoff import reveal
from fluxbilling.orders import lifecycle
from fluxbilling.orders import view as order_view
from fluxbilling.orders.phases.deps import plain
from fluxbilling.orders.phases.store import ActionRow, PhaseWrites, WelcomeMail

__all__ = ["SqlPhaseStore"]

services = schema.services
actions = schema.service_actions
outbox = schema.outgoing_mail


def _action(row: Any) -> ActionRow:
    return ActionRow(
        id=row.id,
        service_id=row.service_id,
        verb=row.verb,
        params=dict(row.params or {}),
        plugin_slug=row.plugin_slug,
        plugin_version=row.plugin_version,
        reason=row.reason,
        secret_sealed=row.secret_sealed,
    )


def _source(ctx: PhaseContext) -> lifecycle.Source:
    claim = ctx.claim
    return lifecycle.Source(claim.run_id, claim.phase, claim.lease_token, claim.worker)


class SqlPhaseStore:
    """The phases' reads and writes, in our database."""

    def __init__(self, db: Database, runs: RunStore) -> None:
        self.db = db
        self.runs = runs

    async def view(self, order_id: int) -> order_view.OrderView:
        """Load an order and its neighbours."""
        async with self.db.connect() as conn:
            return await order_view.load(conn, order_id)

    async def pin_driver(self, claim: Claim, service_id: int, slug: str, version: int) -> int:
        """Pin `slug@version` unless a version is pinned; the version pinned now."""
        async with self.runs.fenced(claim) as conn:
            await conn.execute(
                services.update()
                .where(services.c.id == service_id, services.c.plugin_version.is_(None))
                .values(plugin_slug=slug, plugin_version=version)
            )
            row = (
                await conn.execute(
                    sa.select(services.c.plugin_version).where(services.c.id == service_id)
                )
            ).scalar_one()
        return int(row)

    async def seal_password(self, ctx: PhaseContext, service_id: int, sealed: str) -> str:
        """Keep `sealed` unless the service has a password; the one it has now."""
        async with self.runs.fenced(ctx.claim) as conn:
            await conn.execute(
                services.update()
                .where(services.c.id == service_id, services.c.root_password_sealed.is_(None))
                .values(root_password_sealed=sealed)
            )
            stored = (
                await conn.execute(
                    sa.select(services.c.root_password_sealed).where(services.c.id == service_id)
                )
            ).scalar_one()
            await ctx.record(
                conn,
                "credentials_sealed",
                "password generated and sealed with the installation key",
            )
        return str(stored)

    async def save_cursor(self, claim: Claim, cursor: Mapping[str, Any]) -> None:
        """Keep the phase's cursor now."""
        await self.runs.save_cursor(claim, cursor)

    async def quarantine_image(self, image_id: int) -> None:
        """Mark the image quarantined."""
        async with self.db.begin() as conn:
            await conn.execute(
                schema.images.update()
                .where(schema.images.c.id == image_id)
                .values(status="quarantined")
            )

    async def action(self, run_id: int) -> ActionRow:
        """The `service_actions` row of an action run."""
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(actions).where(actions.c.run_id == run_id))).first()
        if row is None:
            raise errors.InvariantViolation(f"action run {run_id} has no service_actions row")
        return _action(row)

    async def queue_mail(self, claim: Claim, mail: WelcomeMail) -> str:
        """Insert the outbox row unless it exists; its status."""
        # Fenced: a worker that lost its lease (paused, partitioned) learns it here, before
        # sending, instead of mailing the customer a second time.
        async with self.runs.fenced(claim) as conn:
            await conn.execute(
                self.db.insert_ignore(outbox).values(
                    order_id=mail.order_id,
                    template="welcome",
                    to_addr=mail.to_addr,
                    subject=mail.subject,
                    body_masked=mail.body_masked,
                    message_id=mail.message_id,
                    status="queued",
                )
            )
            status = (
                await conn.execute(
                    sa.select(outbox.c.status).where(
                        outbox.c.order_id == mail.order_id, outbox.c.template == "welcome"
                    )
                )
            ).scalar_one()
        return str(status)

    async def mail_sent(self, message_id: str) -> None:
        """Mark the outbox row sent."""
        async with self.db.begin() as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.message_id == message_id)
                .values(status="sent", sent_at=self.db.now())
            )

    async def issue_reveal_link(
        self, ctx: PhaseContext, service_id: int, token: str, *, hours: int
    ) -> None:
        """Store the link's hash (earlier links revoked) and say so in the activity."""
        async with self.runs.fenced(ctx.claim) as conn:
            await reveal.issue_link(conn, self.db, service_id, token, hours=hours)
            await ctx.record(
                conn,
                "reveal_link_issued",
                f"one-time password reveal link issued, valid for {hours} h",
                {"service_id": service_id},
            )

    def writes(self, conn: AsyncConnection, ctx: PhaseContext) -> PhaseWrites:
        """The completion's writes in `conn`."""
        return _SqlWrites(self.db, conn, ctx)


class _SqlWrites:
    """`PhaseWrites` in one fenced transaction."""

    def __init__(self, db: Database, conn: AsyncConnection, ctx: PhaseContext) -> None:
        self.db = db
        self.conn = conn
        self.ctx = ctx

    async def record(self, event: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        await self.ctx.record(self.conn, event, message, data)

    async def view(self, order_id: int) -> order_view.OrderView:
        return await order_view.load(self.conn, order_id)

    async def reserve(
        self, order_id: int, product: Mapping[str, Any], *, with_address: bool
    ) -> reservation.Reservation:
        return await reservation.reserve(
            self.conn,
            order_id=order_id,
            product=dict(product),
            lock=not self.db.is_sqlite,
            with_address=with_address,
        )

    async def create_service(self, order_id: int, host_id: int) -> int:
        service_id = await lifecycle.create_service(self.conn, order_id=order_id, host_id=host_id)
        await reservation.attach(self.conn, order_id=order_id, service_id=service_id)
        return service_id

    async def release(self, order_id: int) -> reservation.Release:
        return await reservation.release(self.conn, order_id=order_id)

    async def assign_address(self, order_id: int, service_id: int) -> None:
        await self.conn.execute(
            schema.ip_addresses.update()
            .where(schema.ip_addresses.c.order_id == order_id)
            .values(service_id=service_id, assigned_at=self.db.now())
        )

    async def set_lease_ptrs(self, ptrs: Sequence[Mapping[str, Any]]) -> None:
        table = schema.ip_addresses
        for ptr in ptrs:
            await self.conn.execute(
                table.update()
                .where(table.c.id == ptr["lease_id"])
                .values(ptr_zone=ptr["zone"], ptr_name=ptr["name"], ptr_content=ptr["content"])
            )

    async def merge_service_data(
        self, service_id: int, patch: Mapping[str, Any], **columns: str | None
    ) -> None:
        # The service's status is not a column here: `orders.lifecycle` is its only writer.
        if "status" in columns:
            raise errors.InvariantViolation("services.status is written by orders.lifecycle only")
        current = await self.service_data(service_id)
        await self.conn.execute(
            services.update()
            .where(services.c.id == service_id)
            .values(
                service_data={**current, **plain(dict(patch))},
                updated_at=sa.func.now(),
                **columns,
            )
        )

    async def transition(
        self,
        event: str,
        message: str,
        *moves: lifecycle.Move,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        entry = lifecycle.Entry(self.ctx.order_id, event, message, data or {}, _source(self.ctx))
        await lifecycle.transition(self.db, self.conn, entry, *moves)

    async def action(self, action_id: int) -> ActionRow:
        row = (await self.conn.execute(sa.select(actions).where(actions.c.id == action_id))).one()
        return _action(row)

    async def service_data(self, service_id: int) -> Mapping[str, Any]:
        current = (
            await self.conn.execute(
                sa.select(services.c.service_data).where(services.c.id == service_id)
            )
        ).scalar_one()
        return dict(current or {})

    async def store_action_result(self, action_id: int, result: Any) -> None:
        await self.conn.execute(
            actions.update().where(actions.c.id == action_id).values(result=result)
        )

    async def revoke_reveal_links(self, service_id: int) -> int:
        return await reveal.revoke_links(self.conn, self.db, service_id)
