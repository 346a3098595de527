"""`make demo`: a paid order becomes an active VPS on the embedded default, shown live.

Everything is real but the vendor: SQLite under `./.fluxbilling/`, the API over HTTP on
loopback, a Stripe-signed webhook, the SolusVM 2 simulator over HTTP, a real SMTP server
capturing the welcome mail. The demo database is reset on every run (it says so); the
installation key under `./.fluxbilling/` is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.config import Settings
from fluxbilling.orders import service
from fluxbilling.orders import view as order_view
from fluxbilling.orders.pipeline import PHASES
from fluxbilling.seed import PRODUCT_SLUG, seed_catalogue
from fluxbilling.server import LoopbackServer, prepare
from fluxbilling.simulators import solusvm2
from fluxbilling.simulators import stripe as stripe_sim
from fluxbilling.simulators.mailbox import CapturingSmtpServer
from fluxbilling.vault import generate_key

__all__ = ["run"]

STATE_DIR = Path(".fluxbilling")
DEMO_DB = STATE_DIR / "demo.db"
SIM_TOKEN = "demo-solusvm2-token"  # noqa: S105 - the simulator's token, not a real credential
TIMEOUT = 120.0


def _reset(console: Console) -> None:
    removed = [p for p in (DEMO_DB, Path(f"{DEMO_DB}-wal"), Path(f"{DEMO_DB}-shm")) if p.exists()]
    for path in removed:
        path.unlink()
    if removed:
        console.print(
            f"[yellow]Resetting demo state:[/] removed the previous {DEMO_DB} (the key in {STATE_DIR}/ is kept)"
        )
    else:
        console.print(f"Fresh demo state in {STATE_DIR}/")


def _progress(order: dict[str, Any]) -> Group:
    table = Table(box=None, show_header=False, padding=(0, 1))
    latest: dict[str, str] = {}
    for event in order["activity"]:
        if event["phase"] and (event["event"] != "phase_completed" or event["phase"] not in latest):
            latest[event["phase"]] = event["message"]
    icons = {
        "done": Text("✓", style="green"),
        "failed": Text("✗", style="red"),
        "pending": Text("·", style="dim"),
    }
    for phase in order["phases"]:
        status = phase["status"]
        icon: Any = icons.get(status) or Spinner("dots", style="cyan")
        table.add_row(
            icon,
            Text(phase["phase"], style="bold"),
            Text(status),
            Text(latest.get(phase["phase"], ""), style="dim"),
        )
    title = f"order {order['id']} · {order['hostname']} · [bold]{order['state']}[/]"
    return Group(Panel(table, title=title, expand=False))


async def _watch(
    installation: bootstrap.Installation, order_id: int, console: Console
) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    order = await service.describe_order(installation.db, order_id)
    with Live(_progress(order), console=console, refresh_per_second=12, transient=False) as live:
        while (
            order["state"] not in ("active", "failed", "cancelled") and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.1)
            order = await service.describe_order(installation.db, order_id)
            live.update(_progress(order))
    return order


def _print_mail(console: Console, smtp: CapturingSmtpServer, password: str) -> None:
    if not smtp.messages:
        console.print("[red]No mail reached the SMTP server.[/]")
        return
    mail = smtp.messages[-1]
    body = mail.get_content() if hasattr(mail, "get_content") else str(mail)
    head = "\n".join(f"{name}: {mail[name]}" for name in ("From", "To", "Subject", "Message-ID"))
    text = f"{head}\n\n{body}"
    console.print(
        Panel(
            text.replace(password, "•" * 12),
            title=f"welcome mail as received by SMTP 127.0.0.1:{smtp.port} (password masked)",
        )
    )


def _print_activity(console: Console, order: dict[str, Any]) -> None:
    table = Table(title=f"activity log of order {order['id']}", show_lines=False)
    for column in ("time", "phase", "event", "message"):
        table.add_column(column)
    for event in order["activity"]:
        table.add_row(event["at"][11:23], event["phase"] or "", event["event"], event["message"])
    console.print(table)


async def run(*, database_url: str | None = None, console: Console | None = None) -> int:
    """Run the demo; 0 when the order reached `active`.

    Args:
        database_url: another (empty, migrated or not) database instead of the demo's SQLite
            file, which is otherwise reset first.
        console: where to print (the terminal by default).
    """
    console = console or Console()
    if database_url is None:
        _reset(console)
    sim_state = solusvm2.SolusVM2State(token=SIM_TOKEN, polls_until_started=2)
    sim = LoopbackServer(solusvm2.create_app(sim_state))
    await sim.start()
    smtp = CapturingSmtpServer()
    smtp.start()
    embedded = database_url is None or database_url.startswith("sqlite")
    settings = Settings(
        database_url=database_url or f"sqlite:///{DEMO_DB}",
        state_dir=STATE_DIR,
        smtp_port=smtp.port,
        poll_interval=0.2,
        # Embedded: kept under ./.fluxbilling/; elsewhere: throwaway values for this run.
        secret_key=None if embedded else generate_key(),
        api_token=None if embedded else secrets.token_urlsafe(16),
        stripe_webhook_secret=None if embedded else "whsec_" + secrets.token_urlsafe(16),
    )
    installation = bootstrap.build(settings)
    stop = asyncio.Event()
    api: LoopbackServer | None = None
    worker: asyncio.Task[None] | None = None
    try:
        await prepare(installation)
        async with installation.db.begin() as conn:
            await seed_catalogue(
                conn,
                installation.vault,
                solusvm_url=f"{sim.url}/api/v1",
                solusvm_token=SIM_TOKEN,
                image_dir=STATE_DIR / "images",
                poll_interval=0.5,
            )
        console.print(
            f"Seeded: location ams1, 3 hosts, subnet 192.0.2.0/24, image debian-12 (sha256), product {PRODUCT_SLUG}, "
            f"SolusVM 2 connection → simulator at {sim.url}/api/v1"
        )
        api = LoopbackServer(create_app(installation))
        await api.start()
        worker = asyncio.create_task(installation.worker().run(stop))
        console.print(f"API on {api.url} · SMTP capture on 127.0.0.1:{smtp.port} · worker running")
        headers = {"Authorization": f"Bearer {installation.api_token}"}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10) as client:
            created = await client.post(
                "/api/v1/orders",
                json={
                    "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
                    "product": PRODUCT_SLUG,
                    "hostname": "vps1.example.com",
                },
            )
            created.raise_for_status()
            invoice = created.json()["invoice"]
            order_id = created.json()["order"]["id"]
            console.print(
                f"POST /api/v1/orders → order {order_id}, invoice {invoice['id']}: "
                f"{invoice['amount_minor']} {invoice['currency']} unpaid"
            )
            event = stripe_sim.checkout_completed(
                invoice["id"], invoice["amount_minor"], invoice["currency"]
            )
            response = await stripe_sim.deliver(
                client, f"{api.url}/webhooks/stripe", event, installation.stripe_secrets[0]
            )
            console.print(
                "POST /webhooks/stripe (signed checkout.session.completed) → "
                f"{response.status_code} {response.json()['outcome']}"
            )
        order = await _watch(installation, order_id, console)
        password = ""
        sealed = (order.get("service") or {}).get("has_credentials")
        if sealed:
            async with installation.db.connect() as conn:
                current = await order_view.load(conn, order_id)
            password = installation.vault.open(current.service["root_password_sealed"])
        _print_mail(console, smtp, password or "\x00")
        _print_activity(console, order)
        servers = len(sim_state.servers)
        if order["state"] != "active":
            console.print(f"[red]The order ended {order['state']}[/]: {order['run']}")
            return 1
        console.print(
            f"[green]Order {order_id} is active[/] · the SolusVM 2 simulator holds {servers} server(s) · "
            f"phases: {', '.join(p.value for p in PHASES)}"
        )
        if database_url is None:
            console.print(
                f"Inspect it later: FLUXBILLING_DATABASE_URL=sqlite:///{DEMO_DB} "
                f".venv/bin/fluxbilling orders show {order_id}"
            )
        return 0
    finally:
        stop.set()
        if worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, 10)
        if api is not None:
            await api.stop()
        await sim.stop()
        smtp.stop()
        await installation.close()
