"""Our DCIM records in the database: service assignments, the sync's pushed state, drift.

The shell around `dcim_sync`: `assign` (the network phase's commit) keeps a service's
interface and address; `facts` reads what the sync pushes; `pushed` and `save` keep what it
wrote and the drift it found (`dcim_drift`: one open row per object and field, updated
while the drift lasts, resolved once NetBox agrees with us again). Every function runs in
the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import Database, schema
from fluxbilling.network.dcim_drift import Drift, Kind
from fluxbilling.network.dcim_sync import Facts, Pushed, SyncResult

__all__ = ["assign", "drift_rows", "facts", "pushed", "save"]

_assignments = schema.dcim_assignments
_pushed = schema.dcim_pushed
_drift = schema.dcim_drift


async def assign(
    conn: AsyncConnection,
    db: Database,
    *,
    service_id: int,
    host_id: int | None,
    interface: str,
    address: str,
    dns_name: str,
) -> None:
    """Keep (insert or replace) a service's interface and address."""
    values = {
        "host_id": host_id,
        "interface": interface,
        "address": address,
        "dns_name": dns_name,
        "updated_at": db.now(),
    }
    updated = await conn.execute(
        _assignments.update().where(_assignments.c.service_id == service_id).values(**values)
    )
    if updated.rowcount == 0:
        await conn.execute(_assignments.insert().values(service_id=service_id, **values))


async def facts(conn: AsyncConnection, service_id: int) -> Facts | None:
    """What the sync pushes for a service (None: the network phase recorded nothing)."""
    hosts, locations, racks = schema.hosts, schema.locations, schema.racks
    row = (
        await conn.execute(
            sa.select(
                _assignments.c.interface,
                _assignments.c.address,
                _assignments.c.dns_name,
                hosts.c.name.label("host_name"),
                hosts.c.rack_position,
                locations.c.code,
                locations.c.name.label("site_name"),
                racks.c.name.label("rack_name"),
                racks.c.units,
            )
            .select_from(
                _assignments.join(hosts, hosts.c.id == _assignments.c.host_id)
                .join(locations, locations.c.id == hosts.c.location_id)
                .outerjoin(racks, racks.c.id == hosts.c.rack_id)
            )
            .where(_assignments.c.service_id == service_id)
        )
    ).first()
    if row is None:
        return None
    return Facts(
        service_id=service_id,
        site_code=row.code,
        site_name=row.site_name,
        host_name=row.host_name,
        interface=row.interface,
        address=row.address,
        dns_name=row.dns_name,
        rack_name=row.rack_name,
        rack_units=row.units,
        rack_position=row.rack_position if row.rack_name is not None else None,
    )


async def pushed(
    conn: AsyncConnection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Pushed]:
    """What we last wrote to each of the objects `keys` names (`(kind, key)`)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = (
        await conn.execute(sa.select(_pushed).where(_pushed.c.key.in_({k for _, k in wanted})))
    ).all()
    return {
        (row.kind, row.key): Pushed(Kind(row.kind), row.key, int(row.remote_id), dict(row.fields))
        for row in rows
        if (row.kind, row.key) in wanted
    }


async def save(
    conn: AsyncConnection, db: Database, service_id: int, result: SyncResult
) -> list[Drift]:
    """Keep what a sync pushed and the drift it found; answer the drift newly detected.

    Open drift rows of the service's objects that no longer drift are resolved.
    """
    now = db.now()
    for item in result.pushed:
        values = {"remote_id": item.remote_id, "fields": dict(item.fields), "pushed_at": now}
        updated = await conn.execute(
            _pushed.update()
            .where(_pushed.c.kind == str(item.kind), _pushed.c.key == item.key)
            .values(**values)
        )
        if updated.rowcount == 0:
            await conn.execute(_pushed.insert().values(kind=str(item.kind), key=item.key, **values))
    keys = {item.key for item in result.pushed}
    remote = {item.key: item.remote_id for item in result.pushed}
    open_rows = (
        await conn.execute(
            sa.select(_drift).where(_drift.c.key.in_(keys), _drift.c.resolved_at.is_(None))
        )
    ).all()
    still = {(d.kind.value, d.key, d.field): d for d in result.drift}
    new: list[Drift] = []
    for row in open_rows:
        found = still.pop((row.kind, row.key, row.field), None)
        change: dict[str, Any] = (
            {"resolved_at": now}
            if found is None
            else {"ours": found.ours, "theirs": found.theirs, "pushed": found.pushed}
        )
        await conn.execute(_drift.update().where(_drift.c.id == row.id).values(**change))
    for drift in still.values():
        new.append(drift)
        await conn.execute(
            _drift.insert().values(
                kind=drift.kind.value,
                key=drift.key,
                field=drift.field,
                remote_id=remote.get(drift.key),
                ours=drift.ours,
                theirs=drift.theirs,
                pushed=drift.pushed,
                service_id=service_id,
                detected_at=now,
            )
        )
    return new


async def drift_rows(
    conn: AsyncConnection, *, include_resolved: bool = False, limit: int = 100
) -> list[Mapping[str, Any]]:
    """The drift reports, newest first (open ones only unless `include_resolved`)."""
    query = sa.select(_drift).order_by(_drift.c.id.desc()).limit(limit)
    if not include_resolved:
        query = query.where(_drift.c.resolved_at.is_(None))
    return [dict(row._mapping) for row in (await conn.execute(query)).all()]
