"""DCIM at the API: the drift between our model and the inventory system (NetBox).

Racks, ports and cables are catalogue entries (`api.catalogue`); this module reports what
the DCIM sync runs found edited in NetBox and left alone (`GET /api/v1/dcim/drift`), and
each service's interface and address as the network phase recorded them. An operator may
sync a service again (`POST /api/v1/dcim/services/{id}/sync`): after a host moved rack, or
once a drift was settled in NetBox.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling import errors
from fluxbilling.api.auth import Operator, Viewer, require_token
from fluxbilling.api.fields import RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.db import schema
from fluxbilling.engine import activity
from fluxbilling.network import dcim_store
from fluxbilling.orders.pipeline import DCIM_SYNC_KIND, Phase

__all__ = ["AssignmentOut", "DriftListOut", "DriftOut", "SyncQueuedOut", "router"]

router = APIRouter(prefix="/api/v1/dcim", tags=["dcim"], dependencies=[Depends(require_token)])

Scalar = str | int | None


class DriftOut(Row):
    """One field someone edited in the inventory system since our last push (left alone)."""

    id: int
    kind: str = Field(description="site, rack, device, interface or ip_address")
    key: str = Field(description="our key of the object, e.g. `service:12:address`")
    field: str = Field(description="the field, e.g. `dns_name`")
    remote_id: int | None = Field(description="the object's id in the inventory system")
    ours: Scalar = Field(description="our value")
    theirs: Scalar = Field(description="the inventory system's value")
    pushed: Scalar = Field(description="what we last wrote there")
    service_id: int | None
    detected_at: Timestamp
    resolved_at: Timestamp | None = Field(
        description="when the inventory system agreed with us again (null: still drifting)"
    )


class DriftListOut(Row):
    """Drift reports, newest first."""

    items: list[DriftOut]


class AssignmentOut(Row):
    """A service's interface and address in our DCIM model."""

    service_id: int
    host_id: int | None
    interface: str
    address: str
    dns_name: str
    updated_at: Timestamp


@router.get("/drift", summary="Fields edited in the inventory system since our last push")
async def list_drift(
    request: Request,
    who: Viewer,
    include_resolved: bool = Query(False, description="also the drift that has ended"),
    limit: int = Query(100, ge=1, le=500),
) -> DriftListOut:
    """Drift the DCIM sync found and did not overwrite, newest first (open ones by default)."""
    async with request.app.state.installation.db.connect() as conn:
        rows: list[Any] = await dcim_store.drift_rows(
            conn, include_resolved=include_resolved, limit=limit
        )
    return DriftListOut(items=[DriftOut.model_validate(row) for row in rows])


@router.get("/services/{service_id}", summary="A service's interface and address")
async def get_assignment(request: Request, who: Viewer, service_id: RowId) -> AssignmentOut:
    """What the network phase recorded for the service in our DCIM model."""
    table = schema.dcim_assignments
    async with request.app.state.installation.db.connect() as conn:
        row = (await conn.execute(sa.select(table).where(table.c.service_id == service_id))).first()
    if row is None:
        raise errors.NotFound(
            f"service {service_id} has no DCIM record (not through its network phase yet)",
            service_id=service_id,
        )
    return AssignmentOut.model_validate(row)


class SyncQueuedOut(Row):
    """A DCIM sync run, queued."""

    service_id: int
    order_id: int
    run_id: int = Field(description="the `dcim_sync` run (`GET /api/v1/runs/{run_id}`)")


@router.post(
    "/services/{service_id}/sync",
    status_code=202,
    summary="Sync a service to the inventory system again",
    responses={
        409: {
            "description": "no inventory system is configured, or the service has no DCIM "
            "record yet (not through its network phase)"
        }
    },
)
async def sync_service(request: Request, who: Operator, service_id: RowId) -> SyncQueuedOut:
    """Queue a `dcim_sync` run for the service (drift found is reported, never overwritten)."""
    installation = request.app.state.installation
    if installation.dcim is None:
        raise errors.Conflict(
            "no inventory system is configured (FLUXBILLING_DCIM_NETBOX_CONNECTION)"
        )
    services, assignments = schema.services, schema.dcim_assignments
    async with installation.db.begin() as conn:
        row = (
            await conn.execute(
                sa.select(services.c.order_id, assignments.c.id.label("assignment"))
                .select_from(
                    services.outerjoin(assignments, assignments.c.service_id == services.c.id)
                )
                .where(services.c.id == service_id)
            )
        ).first()
        if row is None:
            raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)
        if row.assignment is None:
            raise errors.Conflict(
                f"service {service_id} has no DCIM record yet (its network phase has not run)",
                service_id=service_id,
            )
        run_id = await installation.store.enqueue(
            conn,
            row.order_id,
            kind=DCIM_SYNC_KIND,
            phase=Phase.DCIM_SYNC,
            dedupe_key=f"{row.order_id}:{DCIM_SYNC_KIND}:request:{uuid.uuid4().hex}",
        )
        await activity.record(
            conn,
            row.order_id,
            "dcim_sync_queued",
            f"{who.name} asked for a DCIM sync of service {service_id}",
            run_id=run_id,
            phase=Phase.DCIM_SYNC,
        )
    installation.wakeup.notify()
    return SyncQueuedOut(service_id=service_id, order_id=row.order_id, run_id=run_id)
