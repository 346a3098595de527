"""DCIM at the API: the drift between our model and the inventory system (NetBox).

Racks, ports and cables are catalogue entries (`api.catalogue`); this module reports what
the DCIM sync runs found edited in NetBox and left alone (`GET /api/v1/dcim/drift`), and
each service's interface and address as the network phase recorded them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from fluxbilling import errors
from fluxbilling.api.auth import Viewer, require_token
from fluxbilling.api.fields import RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.db import schema
from fluxbilling.network import dcim_store

__all__ = ["AssignmentOut", "DriftListOut", "DriftOut", "router"]

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
