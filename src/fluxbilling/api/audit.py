"""The audit log for operators: who changed what, newest first, filtered by entity and actor."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, StringConstraints

from fluxbilling.api.auth import Viewer, require_token
from fluxbilling.api.fields import ONE_LINE, RowId
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.db import schema
from fluxbilling.jsontypes import JsonObject

__all__ = ["AuditListOut", "AuditOut", "router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(require_token)])


class AuditOut(Row):
    """One change, as recorded in its transaction."""

    id: int
    actor: str = Field(description="who: a user, `installation-token`, `cli`, `seed`")
    action: str = Field(description="`<entity>.<verb>`, e.g. `host.update`")
    entity: str
    entity_id: str | None
    changes: JsonObject = Field(
        description="what changed: field values, or {field: {from, to}}; secrets never shown"
    )
    created_at: Timestamp


class AuditListOut(Row):
    """A page of audit rows, newest first."""

    items: list[AuditOut]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


@router.get(
    "", summary="Audit rows, newest first, filtered by entity and actor; paginated by cursor"
)
async def list_audit(
    request: Request,
    who: Viewer,
    entity: Annotated[
        str | None,
        StringConstraints(max_length=64),
        ONE_LINE,
        Query(description="e.g. `host`"),
    ] = None,
    entity_id: Annotated[
        str | None,
        StringConstraints(max_length=200),
        ONE_LINE,
        Query(description="the entity's id (with `entity`)"),
    ] = None,
    actor: Annotated[
        str | None,
        StringConstraints(max_length=200),
        ONE_LINE,
        Query(description="who made the change: a username or `installation-token`"),
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[
        RowId | None, Query(description="the next_cursor of the previous page")
    ] = None,
) -> AuditListOut:
    """Every change to the catalogue (and, as they are audited, other operator actions)."""
    table = schema.audit_log
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit + 1)
    if entity is not None:
        query = query.where(table.c.entity == entity)
    if entity_id is not None:
        query = query.where(table.c.entity_id == entity_id)
    if actor is not None:
        query = query.where(table.c.actor == actor)
    if cursor is not None:
        query = query.where(table.c.id < cursor)
    async with request.app.state.installation.db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return AuditListOut(
        items=[AuditOut.model_validate(r) for r in rows[:limit]],
        next_cursor=rows[limit - 1].id if len(rows) > limit else None,
    )
