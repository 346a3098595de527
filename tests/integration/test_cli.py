"""The command line, in-process: migrate, orders show, runs retry and cancel, plugin checks."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, cli, errors
from fluxbilling.config import Settings
from fluxbilling.db import schema
from fluxbilling.db.migrate import upgrade
from fluxbilling.drivers.connections import create_connection
from fluxbilling.engine import policy
from fluxbilling.network.rdns import InternalRdns
from fluxbilling.orders.pipeline import Phase
from fluxbilling.plugins import check
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.vault import Vault, generate_key
from tests import dbsupport
from tests.integration.test_engine import seed_order

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    values = {
        "FLUXBILLING_DATABASE_URL": database_url,
        "FLUXBILLING_SECRET_KEY": generate_key(),
        "FLUXBILLING_API_TOKEN": "cli-token",
        "FLUXBILLING_STRIPE_WEBHOOK_SECRET": "whsec_cli",
        "FLUXBILLING_STATE_DIR": str(tmp_path / "state"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    if backend == "postgresql":

        async def empty() -> None:
            inst = bootstrap.build(Settings())
            await dbsupport.truncate_all(inst.db)
            await inst.close()

        asyncio.run(empty())
    return database_url


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as caught:
        cli.main(list(args))
    return int(caught.value.code or 0)


def test_migrate_is_idempotent(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("migrate") == 0
    assert run_cli("migrate") == 0
    assert capsys.readouterr().out.count("database is up to date") == 2


def test_unknown_things_are_clear_errors(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("orders", "show", "41") == 2
    assert "order 41 does not exist" in capsys.readouterr().err
    assert run_cli("runs", "retry", "9") == 2
    assert "run 9 does not exist" in capsys.readouterr().err
    assert run_cli("runs", "cancel", "9") == 2


def test_orders_show_retry_and_cancel(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def setup() -> tuple[int, int]:
        inst = bootstrap.build(Settings())

        (order_id,) = await seed_order(inst.db)
        store = inst.store
        (claim,) = await store.claim("cli-test")

        await store.attempt_failed(
            claim,
            errors.PermanentUpstreamError("boom", upstream="panel"),
            policy.Fail("boom"),
            now=claim.phase_started_at,
            last_upstream=None,
        )
        await inst.close()
        assert claim.phase == Phase.ALLOCATION
        return order_id, claim.run_id

    order_id, run_id = asyncio.run(setup())
    assert run_cli("orders", "show", str(order_id)) == 0
    text = capsys.readouterr().out
    assert "failed at allocation" in text and "phase_failed" in text
    assert run_cli("orders", "show", str(order_id), "--json") == 0
    assert json.loads(capsys.readouterr().out)["run"]["state"] == "failed"
    assert run_cli("runs", "retry", str(run_id), "--from-phase", "allocation") == 0
    assert "queued from allocation" in capsys.readouterr().out
    assert run_cli("runs", "cancel", str(run_id)) == 0
    assert run_cli("runs", "cancel", str(run_id)) == 2
    assert "cannot be cancelled" in capsys.readouterr().err


def test_plugin_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main([str(p) for p in builtin_plugin_paths()]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "fluxbilling-visual-plugin", "plugin": {}, "flows": {}}')
    assert check.main([str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.json: invalid" in err and "plugin.slug" in err


def test_secrets_rotate_reseals_under_the_new_key(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = Settings().secret_key
    assert old is not None
    old_key = old.get_secret_value()

    async def seed() -> None:
        inst = bootstrap.build(Settings())
        async with inst.db.begin() as conn:
            await create_connection(
                conn,
                inst.vault,
                name="panel",
                type="solusvm2",
                base_url="http://x",
                secrets={"api_token": "tok-rotate"},
            )
        await inst.close()

    asyncio.run(seed())
    new_key = generate_key()
    monkeypatch.setenv("FLUXBILLING_SECRET_KEY", f"{new_key},{old_key}")
    assert run_cli("secrets", "rotate") == 0
    assert "re-sealed 1 connection(s) and 0 root password(s)" in capsys.readouterr().out

    async def read() -> str:
        inst = bootstrap.build(Settings())
        async with inst.db.connect() as conn:
            sealed = (
                await conn.execute(sa.select(schema.connections.c.secrets_sealed))
            ).scalar_one()
        await inst.close()
        return str(sealed)

    sealed = asyncio.run(read())
    assert json.loads(Vault(new_key).open(sealed)) == {"api_token": "tok-rotate"}
    with pytest.raises(errors.InvalidSettings):
        Vault(old_key).open(sealed)


def test_dns_export_zone_writes_a_zone_named_checkzone_accepts(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checker = shutil.which("named-checkzone")
    if checker is None:
        pytest.fail("named-checkzone is missing: scripts/services installs bind9-utils")

    async def publish() -> None:
        inst = bootstrap.build(Settings())
        await upgrade(inst.db)
        rdns = InternalRdns(inst.db)
        await rdns.set_ptr("192.0.2.10", "vps1.example.com")
        await rdns.set_forward("vps1.example.com", "192.0.2.10")
        await rdns.set_forward("vps1.example.com", "2001:db8::10")
        await inst.close()

    asyncio.run(publish())
    for zone, owner in (("example.com", "vps1.example.com."), ("2.0.192.in-addr.arpa", "10.")):
        path = tmp_path / f"{zone}.zone"
        assert run_cli("dns", "export-zone", zone, "-o", str(path)) == 0
        assert capsys.readouterr().out == f"wrote {path}\n"
        assert owner in path.read_text()
        checked = subprocess.run(
            [checker, zone, str(path)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.strip().endswith("OK")
    assert run_cli("dns", "export-zone", "example.org") == 2
    assert "no records in zone example.org." in capsys.readouterr().err
