"""The activity log: append-only rows, each written in the transaction of the change it describes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.redaction import Redactor

__all__ = ["record"]

_REDACT = Redactor()
# Built once: constructing and cache-keying the statement per row cost more than running it.
_INSERT = schema.activity_log.insert()


async def record(
    conn: AsyncConnection,
    order_id: int,
    event: str,
    message: str,
    *,
    run_id: int | None = None,
    phase: str | None = None,
    data: Mapping[str, Any] | None = None,
    lease_token: int | None = None,
    worker: str | None = None,
) -> None:
    """Append one activity row inside the caller's transaction (values under secret keys masked)."""
    await conn.execute(
        _INSERT,
        {
            "order_id": order_id,
            "run_id": run_id,
            "event": event,
            "phase": phase,
            "message": message,
            "data": _REDACT.value(dict(data or {})),
            "lease_token": lease_token,
            "worker": worker,
        },
    )
