"""Key rotation: re-seal every stored secret under the newest installation key.

Rotate by setting `FLUXBILLING_SECRET_KEY="<new>,<old>"` (the first seals, all open), running
`fluxbilling secrets rotate`, and then dropping the old key. Each row is re-sealed in its own
short transaction; running it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.vault import Vault

__all__ = ["RotationReport", "reseal_all"]


@dataclass(frozen=True, slots=True)
class RotationReport:
    """How many sealed values were re-sealed, per table."""

    connections: int
    services: int


async def reseal_all(db: Database, vault: Vault) -> RotationReport:
    """Re-seal connection credentials and service root passwords with the newest key."""
    counts = []
    for table, column in (
        (schema.connections, schema.connections.c.secrets_sealed),
        (schema.services, schema.services.c.root_password_sealed),
    ):
        async with db.connect() as conn:
            rows = (
                await conn.execute(sa.select(table.c.id, column).where(column.is_not(None)))
            ).all()
        for row_id, sealed in rows:
            async with db.begin() as conn:
                await conn.execute(
                    table.update()
                    .where(table.c.id == row_id, column == sealed)
                    .values({column.name: vault.rotate(sealed)})
                )
        counts.append(len(rows))
    return RotationReport(connections=counts[0], services=counts[1])
