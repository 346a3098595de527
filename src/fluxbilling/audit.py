"""The audit log: who changed what, one append-only row per change, in the change's transaction.

Activity rows tell an order's story; audit rows tell the operators' one: a catalogue entry
created, a connection's secrets replaced, a user's role changed, a password revealed. A row
names the actor (a user or `installation-token`), the action (`<entity>.<verb>`, such as
`host.update`), the entity and its id, and what changed. Secrets never reach it: callers
pass the *names* of secrets that changed, never values, and every string is redacted anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.redaction import Redactor

__all__ = ["record"]

_REDACT = Redactor()
_INSERT = schema.audit_log.insert()


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit row inside the caller's transaction.

    Args:
        conn: the connection of the transaction that makes the change.
        actor: the principal's name (`Principal.name`).
        action: `<entity>.<verb>`, such as `location.create` or `user.role_change`.
        entity: the kind of thing changed (`location`, `host`, `user`, ...).
        entity_id: its id or natural key; None when there is none (a failed login).
        changes: what changed, as JSON (field: new value, or {"from": ..., "to": ...}).
    """
    await conn.execute(
        _INSERT,
        {
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "changes": _REDACT.value(dict(changes or {})),
        },
    )
