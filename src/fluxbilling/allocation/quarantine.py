"""Host health: provision failures in a row quarantine a host; a success resets the count.

```
provision fails on host      consecutive_failures += 1
  ... reaches the limit      status active -> quarantined, quarantine_reason, quarantined_at
provision succeeds on host   consecutive_failures = 0   (a quarantined host stays quarantined:
                                                         an operator lets it back in)
```

`verdict` decides (pure); `failed` and `succeeded` write it in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation.choice import HostStatus
from fluxbilling.db import schema

__all__ = ["HostFailure", "failed", "succeeded", "verdict"]


@dataclass(frozen=True, slots=True)
class HostFailure:
    """A provision failure counted against a host."""

    host_id: int
    host: str
    failures: int
    """Failures in a row, this one included."""
    quarantined: bool
    """This failure quarantined the host (it was active, and reached the limit)."""


def verdict(status: str, failures: int, limit: int) -> bool:
    """Whether a host in `status` with `failures` in a row (this one included) is quarantined now.

    Example:
        >>> verdict("active", 3, 3), verdict("active", 2, 3), verdict("draining", 5, 3)
        (True, False, False)
    """
    return status == HostStatus.ACTIVE and limit > 0 and failures >= limit


async def failed(conn: AsyncConnection, host_id: int, *, reason: str, limit: int) -> HostFailure:
    """Count one provision failure on `host_id`, quarantining it at `limit` failures in a row.

    Args:
        conn: the caller's transaction.
        host_id: the host the failed attempt ran on.
        reason: why it failed, for `quarantine_reason` (no secrets: the error's message).
        limit: the installation's `host_quarantine_failures` (0: never quarantine).
    """
    hosts = schema.hosts
    row = (
        await conn.execute(
            hosts.update()
            .where(hosts.c.id == host_id)
            .values(consecutive_failures=hosts.c.consecutive_failures + 1)
            .returning(hosts.c.name, hosts.c.status, hosts.c.consecutive_failures)
        )
    ).one()
    quarantine = verdict(row.status, int(row.consecutive_failures), limit)
    if quarantine:
        text = f"{row.consecutive_failures} provision failures in a row, the last: {reason}"
        await conn.execute(
            hosts.update()
            .where(hosts.c.id == host_id, hosts.c.status == HostStatus.ACTIVE)
            .values(
                status=HostStatus.QUARANTINED,
                quarantine_reason=text[:2000],
                quarantined_at=sa.func.now(),
            )
        )
    return HostFailure(host_id, row.name, int(row.consecutive_failures), quarantine)


async def succeeded(conn: AsyncConnection, host_id: int) -> None:
    """A provision succeeded on `host_id`: its failures in a row start again from zero."""
    hosts = schema.hosts
    await conn.execute(
        hosts.update()
        .where(hosts.c.id == host_id, hosts.c.consecutive_failures != 0)
        .values(consecutive_failures=0)
    )
