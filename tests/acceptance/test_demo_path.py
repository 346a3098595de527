"""The demo path as an acceptance test: real HTTP (API, webhook, simulator), real SMTP, a worker.

On SQLite it is exactly `make demo` (the demo database under ./.fluxbilling/ of a temporary
working directory, run twice to show it resets); on PostgreSQL the same path on the test
database.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from fluxbilling import bootstrap
from fluxbilling.config import Settings
from fluxbilling_simulators import demo
from tests import dbsupport

pytestmark = [pytest.mark.anyio, pytest.mark.acceptance]


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False), out


async def test_make_demo_reaches_active_and_can_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first_console, first = console()
    assert await demo.run(console=first_console) == 0
    text = first.getvalue()
    assert "Fresh demo state" in text
    assert "Order 1 is active" in text and "holds 1 service(s)" in text
    assert "Password: ••••••••••••" in text
    dns_at = text.split("DNS on ", 1)[1].split()[0]
    assert re.search(rf"PTR 192\.0\.2\.\d+ -> vps1\.example\.com\.  \(answered by {dns_at}\)", text)
    assert re.search(r"Placement: host kvm-ams1-\d+ ", text)
    console_line = " ".join(text.split()).split("Console: ")[1]
    assert console_line.startswith("http://127.0.0.1:")
    assert "sign in as admin with password " in console_line
    password = console_line.split("with password ")[1].split()[0]
    assert await _signs_in("admin", password) == "admin"
    for phase in ("billing", "allocation", "provision", "os_install", "network", "handoff"):
        assert f"{phase} completed" in text
    second_console, second = console()
    assert await demo.run(console=second_console) == 0
    assert "Resetting demo state" in second.getvalue()


async def _signs_in(username: str, password: str) -> str:
    """Sign in on the demo's database (left under ./.fluxbilling/): the user's role."""
    settings = Settings(database_url=f"sqlite:///{demo.DEMO_DB}", state_dir=demo.STATE_DIR)
    installation = bootstrap.build(settings)
    try:
        login = await installation.accounts.login(username, password, "127.0.0.1")
    finally:
        await installation.close()
    return str(login.user.role)


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = "fluxbilling_acceptance"
    yield dbsupport.create_pg_database(name)
    dbsupport.drop_pg_database(name)


async def test_the_demo_path_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    assert await demo.run(database_url=pg_database, console=out_console) == 0
    assert "Order 1 is active" in out.getvalue()


@pytest.mark.parametrize(
    ("provider", "shown"),
    [
        ("virtualizor", "the Virtualizor simulator holds 1 service(s)"),
        ("pterodactyl", "the Pterodactyl simulator holds 1 service(s)"),
        ("whm", "the cPanel & WHM simulator holds 1 service(s)"),
    ],
)
async def test_make_demo_provisions_through_every_shipped_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, shown: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    assert await demo.run(console=out_console, provider=provider) == 0
    text = " ".join(out.getvalue().split())  # rich wraps long lines
    assert "Order 1 is active" in text and shown in text
    assert "Password: ••••••••••••" in text or "Password: ••••" in text
    for phase in ("billing", "allocation", "provision", "os_install", "network", "handoff"):
        assert f"{phase} completed" in text


async def test_an_unknown_demo_provider_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    assert await demo.run(console=out_console, provider="plesk") == 2
    assert "Unknown provider 'plesk'" in out.getvalue()


@pytest.mark.parametrize(
    ("gateway", "notified"),
    [
        ("mollie", "POST /webhooks/mollie: id=tr_"),
        ("paypal", "POST /webhooks/paypal: PAYMENT.CAPTURE.COMPLETED → 200"),
        ("coingate", "POST /webhooks/coingate: paid → 200"),
    ],  # stripe: the default, through the command below
)
async def test_make_demo_pays_through_every_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway: str, notified: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    assert await demo.run(console=out_console, gateway=gateway) == 0
    text = " ".join(out.getvalue().split())
    assert f"POST /api/v1/invoices/1/checkout ({demo.DEMO_GATEWAYS[gateway]})" in text
    assert notified in text
    assert "Order 1 is active" in text
    assert "invoice_paid" in text


def test_the_demo_command_is_what_make_demo_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        demo.main(["--provider", "solusvm2", "--gateway", "stripe", "--once"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "POST /api/v1/invoices/1/checkout (Stripe Checkout)" in text
    assert "POST /webhooks/stripe: checkout.session.completed → 200" in text
    assert "Order 1 is active" in text


def test_the_demo_command_refuses_an_unknown_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        demo.main(["--gateway", "bitpay"])
    assert exited.value.code == 2
    assert "invalid choice: 'bitpay'" in capsys.readouterr().err


async def test_an_unknown_demo_gateway_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    assert await demo.run(console=out_console, gateway="bitpay") == 2
    assert "Unknown gateway 'bitpay'" in out.getvalue()


async def test_make_demo_serves_the_console_until_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    ready_file, stop = tmp_path / "ready.json", asyncio.Event()
    serving = demo.Serving(ready_file=ready_file, place_when=demo.first_login, stop=stop)
    running = asyncio.create_task(demo.run(console=out_console, serving=serving))
    while not ready_file.exists():
        assert not running.done(), out.getvalue()
        await asyncio.sleep(0.05)
    ready = json.loads(ready_file.read_text())
    site = ready["console_url"]
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(site + "orders/1")
        assert page.status_code == 200 and 'id="root"' in page.text
        await asyncio.sleep(0.5)
        assert "POST /api/v1/orders" not in out.getvalue()  # nobody signed in yet
        login = {"username": ready["username"], "password": ready["password"]}
        signed_in = await client.post(site + "api/v1/auth/login", json=login)
        assert signed_in.status_code == 200, signed_in.text
        while "Serving the console" not in out.getvalue():
            assert not running.done(), out.getvalue()
            await asyncio.sleep(0.05)
        another = await client.post(ready["simulators_url"] + "/_demo/orders")
        assert another.status_code == 201
        order = await client.get(f"{site}api/v1/orders/{another.json()['order_id']}")
        assert order.json()["hostname"] == "vps2.example.com"  # read with the session cookie
    stop.set()
    assert await running == 0
    text = " ".join(out.getvalue().split())
    assert "Order 1 is active" in text
    assert f"Operator console: {site}" in text
    assert f"with password {ready['password']}" in text


async def test_make_demo_stops_cleanly_before_anyone_signed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out_console, out = console()
    ready_file, stop = tmp_path / "ready.json", asyncio.Event()
    serving = demo.Serving(ready_file=ready_file, place_when=demo.first_login, stop=stop)
    running = asyncio.create_task(demo.run(console=out_console, serving=serving))
    while not ready_file.exists():
        assert not running.done(), out.getvalue()
        await asyncio.sleep(0.05)
    stop.set()
    assert await running == 0
    assert "POST /api/v1/orders" not in out.getvalue()
