"""`make demo`: a paid order becomes an active service on the embedded default, shown live.

Everything is real but the vendor: SQLite under `./.fluxbilling/`, the API over HTTP on
loopback, a checkout at a payment gateway's simulator (`GATEWAY`: Stripe by default, or
Mollie, PayPal, CoinGate) whose notification pays the invoice, the four panel simulators over
HTTP (`PROVIDER` picks which one provisions: SolusVM 2 by default, or Virtualizor,
Pterodactyl, cPanel & WHM), a real SMTP server capturing the welcome mail. The demo database
is reset on every run (it says so); the installation key under `./.fluxbilling/` is kept.

It lives beside the simulators, not in the product: `fluxbilling-demo --provider whm --gateway
paypal` (what `make demo PROVIDER=whm GATEWAY=paypal` runs) needs this distribution installed.

`make demo` keeps serving until Ctrl-C: it prints the operator console's URL, and places the
paid order once someone is watching there, so the phases go by live on the order's page.
`POST <simulators>/_demo/orders` places another paid order, and `POST
<simulators>/solusvm2/_sim/faults` breaks or mends the panel (`_faults`): what the browser
tests do. `--once` places the order at once and exits when it is active (the acceptance test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import json
import logging
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import httpx
import sqlalchemy as sa
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from fluxbilling import bootstrap, errors, logs
from fluxbilling.accounts import Principal, Role
from fluxbilling.api import create_app
from fluxbilling.cli import exit_with
from fluxbilling.config import Settings
from fluxbilling.db import schema
from fluxbilling.orders import detail
from fluxbilling.orders import view as order_view
from fluxbilling.orders.lifecycle import OrderState
from fluxbilling.orders.pipeline import PHASES
from fluxbilling.seed import PRODUCT_SLUG, PROVIDERS, seed_catalogue, seed_provider
from fluxbilling.server import LoopbackServer, prepare
from fluxbilling.vault import generate_key
from fluxbilling_simulators import panels, solusvm2
from fluxbilling_simulators._demo_payments import DEMO_GATEWAYS, DemoGateway
from fluxbilling_simulators.mailbox import CapturingSmtpServer

__all__ = ["DEMO_GATEWAYS", "DEMO_PROVIDERS", "Serving", "first_login", "main", "run"]

STATE_DIR = Path(".fluxbilling")
DEMO_DB = STATE_DIR / "demo.db"
SIM_TOKEN = "demo-solusvm2-token"  # noqa: S105 - the simulator's token, not a real credential
TIMEOUT = 120.0
_FINAL = (OrderState.ACTIVE, OrderState.FAILED, OrderState.CANCELLED)
SIMULATOR_NETWORKS = ("127.0.0.1/32",)
"""The demo's panel simulators listen on loopback: their connections allow exactly that, the
same explicit allowance an admin gives a panel on a private network."""
DEMO_PROVIDERS: dict[str, tuple[str, str]] = {
    "solusvm2": ("SolusVM 2", "vps1.example.com"),
    "virtualizor": ("Virtualizor", "vps1.example.com"),
    "pterodactyl": ("Pterodactyl", "mc1.example.com"),
    "whm": ("cPanel & WHM", "shop.example.com"),
}
"""Provider → (display name, the demo order's hostname or domain)."""


def _free_port() -> int:
    """A free loopback port for the API (the gateway's webhook URL must be known first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def _progress(order: detail.OrderDetail) -> Group:
    table = Table(box=None, show_header=False, padding=(0, 1))
    latest: dict[str, str] = {}
    for event in order.activity:
        if event.phase and (event.event != "phase_completed" or event.phase not in latest):
            latest[event.phase] = event.message
    icons = {
        detail.PhaseStatus.DONE: Text("✓", style="green"),
        detail.PhaseStatus.FAILED: Text("✗", style="red"),
        detail.PhaseStatus.PENDING: Text("·", style="dim"),
    }
    for phase in order.phases:
        status = phase.status
        icon: Any = icons.get(status) or Spinner("dots", style="cyan")
        table.add_row(
            icon,
            Text(phase.phase, style="bold"),
            Text(status),
            Text(latest.get(phase.phase, ""), style="dim"),
        )
    title = f"order {order.id} · {order.hostname} · [bold]{order.state}[/]"
    return Group(Panel(table, title=title, expand=False))


async def _watch(
    installation: bootstrap.Installation, order_id: int, console: Console
) -> detail.OrderDetail:
    deadline = time.monotonic() + TIMEOUT
    order = await detail.describe_order(installation.db, order_id)
    with Live(_progress(order), console=console, refresh_per_second=12, transient=False) as live:
        while order.state not in _FINAL and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            order = await detail.describe_order(installation.db, order_id)
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


def _print_activity(console: Console, order: detail.OrderDetail) -> None:
    table = Table(title=f"activity log of order {order.id}", show_lines=False)
    for column in ("time", "phase", "event", "message"):
        table.add_column(column)
    for event in order.activity:
        at = event.at.isoformat()[11:23]
        table.add_row(at, event.phase or "", event.event, event.message)
    console.print(table)


@dataclass
class _Shop:
    """Places paid orders the way a customer does: order, checkout, payment at the gateway."""

    client: httpx.AsyncClient
    payment: DemoGateway
    product: str
    hostname: str
    console: Console

    def __post_init__(self) -> None:
        self._numbers = itertools.count(1)

    async def place(self, product: str | None = None) -> int:
        """One more paid order (vps1.example.com, then vps2...) of `product` (default: the
        demo's); its id."""
        number = next(self._numbers)
        first, _, rest = self.hostname.partition(".")
        hostname = self.hostname if number == 1 else f"{first.rstrip('0123456789')}{number}.{rest}"
        created = await self.client.post(
            "/api/v1/orders",
            json={
                "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
                "product": product or self.product,
                "hostname": hostname,
            },
        )
        created.raise_for_status()
        invoice = created.json()["invoice"]
        order_id = int(created.json()["order"]["id"])
        self.console.print(
            f"POST /api/v1/orders → order {order_id}, invoice {invoice['id']}: "
            f"{invoice['amount_minor']} {invoice['currency']} unpaid"
        )
        gateway = self.payment.name
        started = await self.client.post(
            f"/api/v1/invoices/{invoice['id']}/checkout", json={"gateway": gateway}
        )
        started.raise_for_status()
        checkout = started.json()
        self.console.print(
            f"POST /api/v1/invoices/{invoice['id']}/checkout ({DEMO_GATEWAYS[gateway]}) → "
            f"{checkout['gateway_ref']}, customer sent to {checkout['redirect_url']}"
        )
        for line in await self.payment.pay(checkout["gateway_ref"]):
            self.console.print(f"customer paid; {gateway} → POST /webhooks/{gateway}: {line}")
        return order_id


def _with_shop(panels_app: ASGIApp, shop: Callable[[], _Shop | None]) -> ASGIApp:
    """The panel simulators, plus `POST /_demo/orders`: place another paid order (of the demo's
    product, or of `{"product": "<slug>"}`)."""

    async def place(request: Request) -> Response:
        current = shop()
        if current is None:
            return JSONResponse({"error": "the demo is still starting"}, 503)
        asked = json.loads(await request.body() or b"{}")
        product = asked.get("product") if isinstance(asked, dict) else None
        return JSONResponse(
            {"order_id": await current.place(product if isinstance(product, str) else None)}, 201
        )

    return Starlette(
        routes=[Route("/_demo/orders", place, methods=["POST"]), Mount("/", panels_app)]
    )


async def _report(
    installation: bootstrap.Installation,
    order: detail.OrderDetail,
    smtp: CapturingSmtpServer,
    console: Console,
) -> None:
    """The welcome mail (password masked) and the activity log of a finished order."""
    password = ""
    if order.service is not None and order.service.has_credentials:
        async with installation.db.connect() as conn:
            current = await order_view.load(conn, order.id)
        password = installation.vault.open(current.service["root_password_sealed"])
    _print_mail(console, smtp, password or "\x00")
    _print_activity(console, order)
    _print_placement(console, order)
    await _print_ptr(console, installation, order)


def _print_placement(console: Console, order: detail.OrderDetail) -> None:
    """The allocation's decision: the host chosen and, when recorded, why."""
    row = next((e for e in order.activity if e.event == "capacity_reserved"), None)
    if row is None:
        return
    data = row.data
    placement = data.get("placement")
    summary = placement if isinstance(placement, dict) else {}
    host = summary.get("host") or summary.get("chosen") or data.get("host")
    console.print(f"Placement: host {host} ({row.message})", highlight=False, markup=False)
    reasons = summary.get("reasons")
    if isinstance(reasons, list):
        for reason in reasons:
            console.print(f"  · {reason}", highlight=False, markup=False)
    for key, value in summary.items():
        if key not in ("host", "chosen", "reasons"):
            console.print(f"  {key}: {json.dumps(value)}", highlight=False, markup=False)


async def _print_ptr(
    console: Console, installation: bootstrap.Installation, order: detail.OrderDetail
) -> None:
    """Ask the DNS server the network phase asked for the PTR (and the A) of the address."""
    network = (order.service.service_data.get("network") if order.service else None) or {}
    address, confirmed = network.get("address"), network.get("ptr")
    server = installation.dns.address if installation.dns is not None else None
    if not address or not confirmed or server is None:
        return
    ptr = await _dns_answer(server, ipaddress.ip_address(address).reverse_pointer, "PTR")
    console.print(
        f"PTR {address} -> {', '.join(ptr) or 'nothing'}  (answered by {server[0]}:{server[1]})",
        highlight=False,
    )
    forward = network.get("forward") or {}
    if forward.get("name"):
        found = await _dns_answer(server, forward["name"], forward["type"])
        console.print(
            f"{forward['type']} {forward['name']} -> {', '.join(found) or 'nothing'}  "
            f"(answered by {server[0]}:{server[1]})",
            highlight=False,
        )


async def _dns_answer(server: tuple[str, int], name: str, rtype: str) -> list[str]:
    query = dns.message.make_query(name, rtype)
    try:
        reply = await dns.asyncquery.udp(query, server[0], port=server[1], timeout=2)
    except (dns.exception.DNSException, OSError) as exc:
        return [f"no answer ({type(exc).__name__})"]
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


async def _unless(stop: asyncio.Event, work: Awaitable[None]) -> bool:
    """Await `work`; False (and `work` cancelled) when `stop` is set first."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


def _until_signalled() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass(frozen=True)
class Serving:
    """How `make demo` keeps serving the console (None: `--once`, exit when active)."""

    port: int = 0
    ready_file: Path | None = None
    """Written (JSON: console URL, simulators URL, login) once everything listens."""
    place_when: Callable[[bootstrap.Installation], Awaitable[None]] | None = None
    """Awaited before the first order is placed (default: at once)."""
    stop: asyncio.Event | None = None
    """Set it to stop serving (default: Ctrl-C or SIGTERM)."""


async def first_login(installation: bootstrap.Installation) -> None:
    """Return once someone has signed in to the console (a session exists)."""
    while True:
        async with installation.db.connect() as conn:
            signed_in = await conn.execute(sa.select(schema.sessions.c.id).limit(1))
            if signed_in.first() is not None:
                return
        await asyncio.sleep(0.25)


def _outcome(order: detail.OrderDetail, display: str, servers: int, console: Console) -> None:
    if order.state is OrderState.ACTIVE:
        console.print(
            f"[green]Order {order.id} is active[/] · the {display} simulator holds "
            f"{servers} service(s) · phases: {', '.join(p.value for p in PHASES)}"
        )
    else:
        console.print(f"[red]The order ended {order.state}[/]: {order.run}")


async def _announce(
    serving: Serving,
    installation: bootstrap.Installation,
    urls: tuple[str, str],
    password: str,
    console: Console,
) -> None:
    """Print the console's URL and the login; write the ready file."""
    api, sim = urls
    console.print(
        Panel(
            f"Operator console: [bold]{api}/[/]\n"
            f"Sign in as [bold]admin[/] with password [bold]{password}[/]\n"
            "(a one-time login, shown only here). The paid order is placed once you are\n"
            "signed in: watch it go active on the Orders screen. Ctrl-C stops the demo.",
            title="FluxBilling demo",
            expand=False,
        )
    )
    for line in (
        f"API token (scripts): {installation.api_token}",
        f"Break the panel: curl -X POST {sim}/solusvm2/_sim/faults -d '{{\"fail_always\": 422}}'",
        f"Mend it:         curl -X POST {sim}/solusvm2/_sim/faults -d '{{\"clear\": true}}'",
        f"Another order:   curl -X POST {sim}/_demo/orders",
    ):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    if serving.ready_file is not None:
        ready = {
            "console_url": f"{api}/",
            "simulators_url": sim,
            "api_token": installation.api_token,
            "username": "admin",
            "password": password,
        }
        serving.ready_file.write_text(json.dumps(ready))


async def run(
    *,
    database_url: str | None = None,
    console: Console | None = None,
    provider: str = "solusvm2",
    gateway: str = "stripe",
    serving: Serving | None = None,
) -> int:
    """Run the demo; 0 when the order reached `active` (and, serving, Ctrl-C came).

    It ends by printing the console's URL and a one-time login of the `admin` user it made
    (a generated password, shown only there).

    Args:
        database_url: another (empty, migrated or not) database instead of the demo's SQLite
            file, which is otherwise reset first.
        console: where to print (the terminal by default).
        provider: which shipped plugin provisions the order (a key of `DEMO_PROVIDERS`).
        gateway: which payment gateway the customer pays through (`DEMO_GATEWAYS`).
        serving: keep serving the console until Ctrl-C (None: exit once the order is active).
    """
    console = console or Console()
    if provider not in DEMO_PROVIDERS:
        console.print(f"[red]Unknown provider {provider!r}[/]: choose {', '.join(DEMO_PROVIDERS)}")
        return 2
    if gateway not in DEMO_GATEWAYS:
        console.print(f"[red]Unknown gateway {gateway!r}[/]: choose {', '.join(DEMO_GATEWAYS)}")
        return 2
    display, hostname = DEMO_PROVIDERS[provider]
    if database_url is None:
        _reset(console)
    states = panels.PanelStates(
        solusvm2=solusvm2.SolusVM2State(token=SIM_TOKEN, polls_until_started=2)
    )
    shop: _Shop | None = None
    sim = LoopbackServer(_with_shop(panels.create_app(states), lambda: shop))
    await sim.start()
    smtp = CapturingSmtpServer()
    smtp.start()
    embedded = database_url is None or database_url.startswith("sqlite")
    api_port = serving.port if serving and serving.port else _free_port()
    payment = DemoGateway(gateway, f"http://127.0.0.1:{api_port}")
    await payment.start()
    settings = Settings(
        database_url=database_url or f"sqlite:///{DEMO_DB}",
        state_dir=STATE_DIR,
        smtp_port=smtp.port,
        poll_interval=0.2,
        dns_listen_port=0,  # the internal rDNS backend's DNS server, on a free loopback port
        # Embedded: kept under ./.fluxbilling/; elsewhere: throwaway values for this run.
        secret_key=None if embedded else generate_key(),
        api_token=None if embedded else secrets.token_urlsafe(16),
        stripe_webhook_secret=None if embedded else "whsec_" + secrets.token_urlsafe(16),
        coingate_token_secret=None if embedded else secrets.token_urlsafe(16),
        reconcile_interval=0,
        **payment.settings(),
    )
    installation = bootstrap.build(settings, transport_for=payment.transport_for())
    payment.sign_with(installation.stripe_secrets[0])
    stop = asyncio.Event()
    api: LoopbackServer | None = None
    worker: asyncio.Task[None] | None = None
    try:
        await prepare(installation)
        dns_server = await installation.start_dns()
        product = await _seed(installation, provider, sim.url)
        console.print(
            f"Seeded: location ams1, hosts, subnet 192.0.2.0/24, image debian-12 (sha256), "
            f"product {product}, {display} connection → simulator at "
            f"{panels.base_url(provider, sim.url)}"
        )
        api = LoopbackServer(create_app(installation), port=api_port)
        await api.start()
        worker = asyncio.create_task(installation.worker().run(stop))
        admin_password = await _demo_admin(installation)
        dns_note = "" if dns_server is None else " · DNS on {}:{}".format(*dns_server.address)
        console.print(
            f"API on {api.url} · SMTP capture on 127.0.0.1:{smtp.port}{dns_note} · worker running"
        )
        headers = {"Authorization": f"Bearer {installation.api_token}"}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=30) as client:
            shop = _Shop(client, payment, product, hostname, console)
            stopped = None
            if serving is not None:
                stopped = serving.stop or _until_signalled()
                await _announce(serving, installation, (api.url, sim.url), admin_password, console)
                waiting = serving.place_when
                if waiting is not None and not await _unless(stopped, waiting(installation)):
                    return 0  # stopped before anyone signed in
            order = await _watch(installation, await shop.place(), console)
            await _report(installation, order, smtp, console)
            _outcome(order, display, states.upstream_objects(provider), console)
            console.print(
                f"Console: [bold]{api.url}/[/] · sign in as [bold]admin[/] with password "
                f"[bold]{admin_password}[/] (one-time: shown only here)"
            )
            if serving is not None:
                # Whatever became of the order, the console shows it (and can retry it).
                console.print(f"Serving the console on {api.url}/ until Ctrl-C")
                await (stopped or _until_signalled()).wait()
        if database_url is None:
            console.print(
                f"Inspect it later: FLUXBILLING_DATABASE_URL=sqlite:///{DEMO_DB} "
                f".venv/bin/fluxbilling orders show {order.id}"
            )
        return 0 if serving is not None or order.state is OrderState.ACTIVE else 1
    finally:
        stop.set()
        if worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, 10)
        if api is not None:
            await api.stop()
        await sim.stop()
        await payment.stop()
        smtp.stop()
        await installation.close()


async def _seed(installation: bootstrap.Installation, provider: str, sim_url: str) -> str:
    """The demo catalogue, with `provider`'s connection to its simulator; the product's slug."""
    async with installation.db.begin() as conn:
        catalogue = await seed_catalogue(
            conn,
            installation.vault,
            solusvm_url=panels.base_url("solusvm2", sim_url),
            solusvm_token=SIM_TOKEN,
            image_dir=STATE_DIR / "images",
            poll_interval=0.5,
            allowed_networks=SIMULATOR_NETWORKS,
        )
        if provider == "solusvm2":
            return PRODUCT_SLUG
        await seed_provider(
            conn,
            installation.vault,
            provider,
            base_url=panels.base_url(provider, sim_url),
            location_id=catalogue.location_id,
            image_id=catalogue.image_id,
            poll_interval=0.5,
            allowed_networks=SIMULATOR_NETWORKS,
        )
    return PROVIDERS[provider].product_slug


async def _demo_admin(installation: bootstrap.Installation) -> str:
    """An `admin` user with a fresh generated password (reset when the database has one)."""
    accounts = installation.accounts
    demo = Principal(name="demo", role=Role.ADMIN)
    try:
        user = await accounts.user_named("admin")
    except errors.NotFound:
        _user, password = await accounts.create_user(
            demo, username="admin", role=Role.ADMIN, password=None
        )
        assert password is not None  # noqa: S101 - generated when none is given
        return password
    _user, password = await accounts.reset_password(demo, user.id)
    return password


def main(argv: Sequence[str] | None = None) -> None:
    """The `fluxbilling-demo` command: `run` with the provider and gateway asked for."""
    parser = argparse.ArgumentParser(
        prog="fluxbilling-demo", description="a paid order becomes an active service, end to end"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--provider",
        choices=list(DEMO_PROVIDERS),
        default="solusvm2",
        help="the shipped plugin (and simulated panel) that provisions the order",
    )
    parser.add_argument(
        "--gateway",
        choices=list(DEMO_GATEWAYS),
        default="stripe",
        help="the payment gateway (simulated) the customer pays through",
    )
    parser.add_argument(
        "--once", action="store_true", help="place the order at once, exit when it is active"
    )
    parser.add_argument("--port", type=int, default=0, help="the API's port (default: a free one)")
    parser.add_argument("--ready-file", type=Path, help="write the URLs here once serving (JSON)")
    args = parser.parse_args(argv)
    logs.configure(logging.DEBUG if args.verbose else logging.WARNING)
    serving = None
    if not args.once:
        serving = Serving(port=args.port, ready_file=args.ready_file, place_when=first_login)
    exit_with(run(provider=args.provider, gateway=args.gateway, serving=serving))


if __name__ == "__main__":
    main()
