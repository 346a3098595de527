"""The activity log: append-only rows, each written in the transaction of the change it describes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.redaction import Redactor

__all__ = ["Row", "record", "record_many"]

_REDACT = Redactor()
# Built once: constructing and cache-keying the statement per row cost more than running it.
_INSERT = schema.activity_log.insert()


@dataclass(frozen=True, slots=True)
class Row:
    """One activity row, for `record_many` (the arguments of `record`)."""

    order_id: int
    event: str
    message: str
    run_id: int | None = None
    phase: str | None = None
    data: Mapping[str, Any] | None = None
    lease_token: int | None = None
    worker: str | None = None


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
    await record_many(
        conn, [Row(order_id, event, message, run_id, phase, data, lease_token, worker)]
    )


async def record_many(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Append `rows` with one INSERT inside the caller's transaction (nothing when empty)."""
    if rows:
        await conn.execute(
            _INSERT,
            [
                {
                    "order_id": r.order_id,
                    "run_id": r.run_id,
                    "event": r.event,
                    "phase": r.phase,
                    "message": r.message,
                    "data": _REDACT.value(dict(r.data or {})),
                    "lease_token": r.lease_token,
                    "worker": r.worker,
                }
                for r in rows
            ],
        )
