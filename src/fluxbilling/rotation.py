"""Key rotation: re-seal every stored secret under the newest installation key.

Rotate by setting `FLUXBILLING_SECRET_KEY="<new>,<old>"` (the first seals, all open), running
`fluxbilling secrets rotate`, and then dropping the old key. Each row is re-sealed in its own
short transaction, guarded by the value it read (a row changed meanwhile is left to the next
run); running it twice is harmless.

What is sealed, and where:

| table             | column                | what                                           |
|-------------------|-----------------------|------------------------------------------------|
| connections       | secrets_sealed        | a vendor's credentials                         |
| services          | root_password_sealed  | the root password                              |
| service_actions   | secret_sealed         | a reset's new password, until it is applied    |
| service_actions   | result `{"sealed"}`   | a console session (it grants access)           |
| phase_checkpoints | cursor `{"cloud_init_sealed"}` | the cloud-init an install is sending  |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.orders import actions
from fluxbilling.orders.phases import os_install
from fluxbilling.vault import Vault

__all__ = ["RotationReport", "reseal_all"]


@dataclass(frozen=True, slots=True)
class RotationReport:
    """How many sealed values were re-sealed, per kind."""

    connections: int
    services: int
    pending_passwords: int = 0
    console_sessions: int = 0
    install_cursors: int = 0


def _text(vault: Vault) -> Callable[[Any], Any]:
    """Re-seal a sealed text value; an empty one holds nothing."""

    def rotate(value: Any) -> Any:
        return vault.rotate(value) if isinstance(value, str) and value else None

    return rotate


def _under(key: str, vault: Vault) -> Callable[[Any], Any]:
    """Re-seal the value under `key` of a JSON object, keeping the rest as it is."""

    def rotate(value: Any) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get(key), str):
            return None
        return {**value, key: vault.rotate(value[key])}

    return rotate


async def _reseal(db: Database, column: sa.Column[Any], rotate: Callable[[Any], Any]) -> int:
    table = column.table
    id_column = table.c.id
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(id_column, column).where(column.is_not(None)))).all()
    count = 0
    for row_id, value in rows:
        new = rotate(value)
        if new is None:
            continue
        async with db.begin() as conn:
            result = await conn.execute(
                table.update()
                .where(id_column == row_id, column == value)
                .values({column.name: new})
            )
        count += result.rowcount
    return count


async def reseal_all(db: Database, vault: Vault) -> RotationReport:
    """Re-seal every sealed value (see the module docstring) with the newest key."""
    return RotationReport(
        connections=await _reseal(db, schema.connections.c.secrets_sealed, _text(vault)),
        services=await _reseal(db, schema.services.c.root_password_sealed, _text(vault)),
        pending_passwords=await _reseal(db, schema.service_actions.c.secret_sealed, _text(vault)),
        console_sessions=await _reseal(
            db, schema.service_actions.c.result, _under(actions.SEALED, vault)
        ),
        install_cursors=await _reseal(
            db, schema.phase_checkpoints.c.cursor, _under(os_install.SEALED_KEY, vault)
        ),
    )
