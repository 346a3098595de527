"""`secrets rotate` re-seals every sealed value, wherever it is kept, and nothing else."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.orders import actions
from fluxbilling.orders.phases import os_install
from fluxbilling.rotation import reseal_all
from fluxbilling.vault import Vault, generate_key
from tests.integration.test_engine import run_row, seed_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def seed_sealed(db: Database, vault: Vault) -> dict[str, int]:
    (order_id,) = await seed_order(db)
    run_id = (await run_row(db, order_id)).id
    async with db.begin() as conn:
        service_id = (
            await conn.execute(
                schema.services.insert()
                .values(
                    order_id=order_id,
                    status="active",
                    service_data={},
                    root_password_sealed=vault.seal("root-pw-1"),
                )
                .returning(schema.services.c.id)
            )
        ).scalar_one()
        action_id = (
            await conn.execute(
                schema.service_actions.insert()
                .values(
                    service_id=service_id,
                    order_id=order_id,
                    run_id=run_id,
                    verb="reset_password",
                    params={},
                    plugin_slug="acme",
                    plugin_version=1,
                    secret_sealed=vault.seal("new-pw-2"),
                    requested_by="ann",
                    result=actions.seal_result(vault, "console", {"url": "https://c/s3ss10n"}),
                )
                .returning(schema.service_actions.c.id)
            )
        ).scalar_one()
        checkpoint_id = (
            await conn.execute(
                schema.phase_checkpoints.insert()
                .values(
                    run_id=run_id,
                    phase="os_install",
                    correlation_key=f"{order_id}:os_install",
                    status="waiting",
                    cursor={os_install.SEALED_KEY: vault.seal("#cloud-config"), "flow": {"n": 1}},
                )
                .returning(schema.phase_checkpoints.c.id)
            )
        ).scalar_one()
    return {"service": service_id, "action": action_id, "checkpoint": checkpoint_id}


async def test_every_sealed_value_opens_under_the_new_key_alone(db: Database) -> None:
    old_key, new_key = generate_key(), generate_key()
    ids = await seed_sealed(db, Vault(old_key))

    report = await reseal_all(db, Vault(f"{new_key},{old_key}"))
    assert (
        report.services,
        report.pending_passwords,
        report.console_sessions,
        report.install_cursors,
    ) == (1, 1, 1, 1)

    new, old = Vault(new_key), Vault(old_key)
    async with db.connect() as conn:
        password = (
            await conn.execute(
                sa.select(schema.services.c.root_password_sealed).where(
                    schema.services.c.id == ids["service"]
                )
            )
        ).scalar_one()
        action = (
            await conn.execute(
                sa.select(schema.service_actions).where(
                    schema.service_actions.c.id == ids["action"]
                )
            )
        ).one()
        cursor = (
            await conn.execute(
                sa.select(schema.phase_checkpoints.c.cursor).where(
                    schema.phase_checkpoints.c.id == ids["checkpoint"]
                )
            )
        ).scalar_one()
    assert new.open(password) == "root-pw-1"
    assert new.open(action.secret_sealed) == "new-pw-2"
    assert json.loads(new.open(action.result[actions.SEALED])) == {"url": "https://c/s3ss10n"}
    assert new.open(cursor[os_install.SEALED_KEY]) == "#cloud-config"
    assert cursor["flow"] == {"n": 1}
    for sealed in (password, action.secret_sealed, cursor[os_install.SEALED_KEY]):
        with pytest.raises(errors.InvalidSettings):
            old.open(sealed)


async def test_rows_without_a_sealed_value_are_left_alone(db: Database) -> None:
    (order_id,) = await seed_order(db)
    run_id = (await run_row(db, order_id)).id
    async with db.begin() as conn:
        await conn.execute(
            schema.phase_checkpoints.insert().values(
                run_id=run_id,
                phase="provision",
                correlation_key=f"{order_id}:provision",
                status="waiting",
                cursor={"server_id": 7},
            )
        )
    report = await reseal_all(db, Vault(generate_key()))
    assert report.install_cursors == 0
    async with db.connect() as conn:
        cursor = (await conn.execute(sa.select(schema.phase_checkpoints.c.cursor))).scalar_one()
    assert cursor == {"server_id": 7}
