"""`SqlPhaseStore`: the phases' port (`store.PhaseStore`) over our database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.allocation import holds, quarantine, reservation
from fluxbilling.db import Database, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import Claim, RunStore
from fluxbilling.handoff import reveal
from fluxbilling.network import dcim_store
from fluxbilling.network.dcim_drift import Drift
from fluxbilling.network.dcim_sync import Facts, Pushed, SyncResult
from fluxbilling.orders import lifecycle
from fluxbilling.orders import view as order_view
from fluxbilling.orders.phases.deps import plain
from fluxbilling.orders.phases.store import (
    ActionRow,
    PhaseWrites,
    ProvisionFailure,
    WelcomeMail,
)

__all__ = ["SqlDcimRecords", "SqlPhaseStore"]

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

    async def provision_failed(
        self, ctx: PhaseContext, error: str, *, quarantine_after: int, reallocate: bool
    ) -> ProvisionFailure:
        """Count the failure on the order's host, quarantine it at the limit, maybe move on."""
        async with self.runs.fenced(ctx.claim) as conn:
            current = await order_view.load(conn, ctx.order_id)
            host_id = current.service.get("host_id")
            if host_id is None:
                return ProvisionFailure(None)
            failure = await quarantine.failed(
                conn, int(host_id), reason=error, limit=quarantine_after
            )
            if failure.quarantined:
                await _quarantined(conn, ctx, failure, error)
            moved = None
            if reallocate:
                moved = await _move(conn, ctx, current, failure, error, lock=not self.db.is_sqlite)
        return ProvisionFailure(failure.host, failure.quarantined, moved)

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
        return _SqlWrites(self.db, self.runs, conn, ctx)


class SqlDcimRecords:
    """`deps.DcimRecords` over our database (`network.dcim_store`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def facts(self, service_id: int) -> Facts | None:
        """What the sync pushes for the service."""
        async with self.db.connect() as conn:
            return await dcim_store.facts(conn, service_id)

    async def pushed(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Pushed]:
        """What we last wrote to those objects."""
        async with self.db.connect() as conn:
            return await dcim_store.pushed(conn, keys)

    async def save(self, conn: AsyncConnection, service_id: int, result: SyncResult) -> list[Drift]:
        """Keep the result in the completion's transaction."""
        return await dcim_store.save(conn, self.db, service_id, result)


class _SqlWrites:
    """`PhaseWrites` in one fenced transaction."""

    def __init__(
        self, db: Database, runs: RunStore, conn: AsyncConnection, ctx: PhaseContext
    ) -> None:
        self.db = db
        self.runs = runs
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

    async def adopt_hold(self, order_id: int) -> reservation.Reservation | None:
        hold = await holds.adopt(self.db, self.conn, order_id=order_id)
        return hold.reservation() if hold is not None else None

    async def create_service(
        self, order_id: int, host_id: int, *, storage_pool_id: int | None = None
    ) -> int:
        service_id = await lifecycle.create_service(self.conn, order_id=order_id, host_id=host_id)
        if storage_pool_id is not None:
            await self.conn.execute(
                services.update()
                .where(services.c.id == service_id)
                .values(storage_pool_id=storage_pool_id)
            )
        await reservation.attach(self.conn, order_id=order_id, service_id=service_id)
        return service_id

    async def release(self, order_id: int) -> reservation.Release:
        return await reservation.release(self.conn, order_id=order_id)

    async def host_succeeded(self, host_id: int) -> None:
        await quarantine.succeeded(self.conn, host_id)

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

    async def assign_interface(
        self, service_id: int, host_id: int | None, interface: str, address: str, dns_name: str
    ) -> None:
        await dcim_store.assign(
            self.conn,
            self.db,
            service_id=service_id,
            host_id=host_id,
            interface=interface,
            address=address,
            dns_name=dns_name,
        )

    async def enqueue_follow_up(self, kind: str, phase: str, dedupe_key: str) -> bool:
        exists = (
            await self.conn.execute(
                sa.select(schema.runs.c.id).where(schema.runs.c.dedupe_key == dedupe_key)
            )
        ).first()
        if exists is not None:
            return False
        await self.runs.enqueue(
            self.conn, self.ctx.order_id, kind=kind, phase=phase, dedupe_key=dedupe_key
        )
        return True


async def _quarantined(
    conn: AsyncConnection, ctx: PhaseContext, failure: quarantine.HostFailure, error: str
) -> None:
    """The activity and audit rows of a host quarantined by its failures."""
    why = f"{failure.failures} provision failures in a row, the last: {error}"
    await ctx.record(
        conn,
        "host_quarantined",
        f"host {failure.host} quarantined: {why}",
        {"host_id": failure.host_id, "host": failure.host, "failures": failure.failures},
    )
    await audit.record(
        conn,
        actor="system",
        action="host.quarantine",
        entity="host",
        entity_id=failure.host_id,
        changes={"status": "quarantined", "reason": why, "order_id": ctx.order_id},
    )


async def _move(
    conn: AsyncConnection,
    ctx: PhaseContext,
    current: order_view.OrderView,
    failure: quarantine.HostFailure,
    error: str,
    *,
    lock: bool,
) -> str | None:
    """Re-allocate the order to the next candidate after a permanent failure on its host.

    Only when nothing was started upstream (no cursor of an earlier Pending, no provider id
    on the service): otherwise the service may exist on the failed host. In a savepoint:
    the failed host's capacity and the address go back, the next candidate (never a host
    this order failed on) is reserved, the service moves there and the allocation's
    checkpoint says where it is now. When nothing fits, the savepoint rolls back and the
    order stays where it was (the run then fails as any permanent failure).

    Returns:
        The new host's name, or None when it stays (started upstream, or nothing fits).
    """
    if ctx.cursor is not None or current.service.get("external_id") is not None:
        # The attempt had started something upstream (a saved cursor, a provider id): moving
        # would leave it behind on the failed host (`lifecycle.reallocation_refusal`).
        await ctx.record(
            conn,
            "reallocation_refused",
            f"host {failure.host} failed permanently: {error}; not re-allocated: the provider "
            "may already hold the service there (retry, or clean up and re-allocate)",
            {"host_id": failure.host_id},
        )
        return None
    checkpoint = await _allocation_checkpoint(conn, ctx)
    before = dict(checkpoint.output or {}) if checkpoint is not None else {}
    failed = sorted({*before.get("failed_hosts", []), failure.host_id})
    service_id = int(current.service["id"])
    ours = order_view.addressing(current.product) == "ipam"
    try:
        async with conn.begin_nested():
            await reservation.release(conn, order_id=ctx.order_id)
            moved = await reservation.reserve(
                conn,
                order_id=ctx.order_id,
                product=dict(current.product),
                lock=lock,
                with_address=ours,
                exclude=failed,
            )
            await conn.execute(
                services.update()
                .where(services.c.id == service_id)
                .values(host_id=moved.host_id, storage_pool_id=moved.pool_id)
            )
            await reservation.attach(conn, order_id=ctx.order_id, service_id=service_id)
    except errors.CapacityExhausted as exc:
        await ctx.record(
            conn,
            "reallocation_impossible",
            f"host {failure.host} failed permanently: {error}; no other host fits ({exc.message})",
            {"host_id": failure.host_id, "failed_hosts": failed, **exc.details},
        )
        return None
    output = {**moved.to_dict(), "service_id": service_id, "failed_hosts": failed}
    if checkpoint is not None:
        await conn.execute(
            schema.phase_checkpoints.update()
            .where(schema.phase_checkpoints.c.id == checkpoint.id)
            .values(output=output)
        )
    await ctx.record(
        conn,
        "order_reallocated",
        f"host {failure.host} failed permanently: {error}; re-allocated to {moved.host_name}",
        {"from_host_id": failure.host_id, **output},
    )
    return moved.host_name


async def _allocation_checkpoint(conn: AsyncConnection, ctx: PhaseContext) -> Any:
    checkpoints = schema.phase_checkpoints
    return (
        await conn.execute(
            sa.select(checkpoints.c.id, checkpoints.c.output).where(
                checkpoints.c.run_id == ctx.claim.run_id, checkpoints.c.phase == "allocation"
            )
        )
    ).first()
