"""The composition root: the one place that reads settings and wires adapters together."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from fluxbilling import errors, logs
from fluxbilling.accounts import Accounts
from fluxbilling.accounts.passwords import Passwords
from fluxbilling.accounts.sessions import SessionPolicy
from fluxbilling.accounts.throttle import LoginPolicy
from fluxbilling.billing import deliveries
from fluxbilling.billing.gateway import Gateway
from fluxbilling.billing.gateways import coingate as coingate_gateway
from fluxbilling.billing.gateways import mollie as mollie_gateway
from fluxbilling.billing.gateways import paypal as paypal_gateway
from fluxbilling.billing.gateways.stripe import StripeGateway
from fluxbilling.billing.gateways.stripe import api as stripe_api
from fluxbilling.billing.reconciler import Reconciler
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.billing.webhooks import GatewayEndpoint
from fluxbilling.config import Settings, parse_server, split_list
from fluxbilling.db import Database
from fluxbilling.drivers.address_guard import Resolver
from fluxbilling.drivers.connections import ConnectionFactory, TransportFor
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.drivers.upstream import ExchangeRecorder
from fluxbilling.engine.context import PhaseHandler
from fluxbilling.engine.runs import RunStore
from fluxbilling.engine.wakeup import Wakeup
from fluxbilling.engine.worker import Worker
from fluxbilling.handoff.mail import Mailer, SmtpMailer
from fluxbilling.images import hashing
from fluxbilling.network import dnsserver, ovsdb, powerdns
from fluxbilling.network.cloudflare import CloudflareRdns
from fluxbilling.network.dcim_sync import DcimSync
from fluxbilling.network.netbox import NetBoxDcim
from fluxbilling.network.rdns import InternalRdns, RdnsBackend
from fluxbilling.network.switchport import SwitchPortBackend
from fluxbilling.orders import pipeline
from fluxbilling.orders.phases import PhaseDeps, Switching, build_handlers
from fluxbilling.orders.phases.deps import DcimDeps
from fluxbilling.orders.phases.sql_store import SqlDcimRecords, SqlPhaseStore
from fluxbilling.orders.progress import OrderProgress
from fluxbilling.orders.switch_jobs import SwitchJobs
from fluxbilling.plugins.driver import FlowDrivers
from fluxbilling.plugins.manager import PluginManager
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.vault import Vault, load_or_create_key

__all__ = ["ConnectionJson", "Installation", "build", "embedded_secret"]


def embedded_secret(settings: Settings, name: str, value: str | None) -> str:
    """A configured secret, or (embedded SQLite installations only) one kept under `state_dir`.

    Raises:
        errors.InvalidSettings: PostgreSQL installations must configure it explicitly.
    """
    if value:
        return value
    if not settings.database_url.startswith("sqlite"):
        env = f"FLUXBILLING_{name.upper()}"
        raise errors.InvalidSettings(f"{env} must be set when running on PostgreSQL")
    path = Path(settings.state_dir) / f"{name}.secret"
    if name == "secret_key":
        return load_or_create_key(path)
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    generated = ("whsec_" if "webhook" in name else "") + secrets.token_urlsafe(24)
    path.write_text(generated + "\n", encoding="ascii")
    return generated


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass
class Installation:
    """Everything a process of FluxBilling runs with."""

    settings: Settings
    db: Database
    vault: Vault
    store: RunStore
    plugins: PluginManager
    drivers: DriverRegistry
    connections: ConnectionFactory
    rdns: RdnsBackend
    mailer: Mailer
    wakeup: Wakeup
    api_token: str
    stripe_secrets: list[str]
    accounts: Accounts
    gateways: dict[str, Gateway] = field(default_factory=dict)
    dns: dnsserver.DnsServer | None = None
    """The internal backend's DNS server, once `start_dns` started it."""
    dcim: DcimDeps | None = None
    """The inventory system services are synced to (None: our DCIM records only)."""
    handlers: dict[str, PhaseHandler] = field(default_factory=dict)
    # One webhook endpoint per gateway, built on first use (they hold no per-request state).
    _endpoints: dict[str, GatewayEndpoint] = field(default_factory=dict, repr=False)

    def worker(self, *, worker_id: str | None = None, concurrency: int | None = None) -> Worker:
        """A worker bound to this installation."""
        return Worker(
            self.store,
            self.handlers,
            worker_id=worker_id,
            concurrency=concurrency or self.settings.worker_concurrency,
            poll_interval=self.settings.poll_interval,
            wakeup=self.wakeup,
        )

    def reversal_policy(self) -> ReversalPolicy:
        """What full refunds and disputes do to services (per product)."""
        return ReversalPolicy(self.db, self.store, self.drivers, self.vault)

    def delivery_limits(self) -> deliveries.Limits:
        """The bounds of webhook delivery storage and attempts, from the settings."""
        settings = self.settings
        return deliveries.Limits(
            body_bytes=settings.webhook_rejected_body_bytes,
            per_source=settings.webhook_unverified_per_source,
            total=settings.webhook_unverified_total,
            pending_per_source=settings.webhook_pending_per_source,
            pending_total=settings.webhook_pending_total,
            failed_attempts=settings.webhook_failed_attempts,
            deferred_attempts=settings.webhook_deferred_attempts,
        )

    def reconciler(self) -> Reconciler:
        """The reconciler over this installation's gateways."""
        return Reconciler(
            self.db,
            self.store,
            self.gateways,
            self.reversal_policy(),
            after=self.settings.reconcile_after,
            limits=self.delivery_limits(),
        )

    def endpoint(self, gateway: str) -> GatewayEndpoint:
        """Webhook ingestion for a configured gateway, with the refund/chargeback policy.

        Raises:
            errors.NotFound: the gateway is unknown or not configured here.
        """
        endpoint = self._endpoints.get(gateway)
        if endpoint is not None:
            return endpoint
        adapter = self.gateways.get(gateway)
        if adapter is None:
            raise errors.NotFound(
                f"payment gateway {gateway!r} is not configured",
                gateway=gateway[:40],
                configured=sorted(self.gateways),
            )
        endpoint = self._endpoints[gateway] = GatewayEndpoint(
            self.db,
            self.store,
            adapter,
            policy=self.reversal_policy(),
            limits=self.delivery_limits(),
        )
        return endpoint

    def stripe_endpoint(self) -> GatewayEndpoint:
        """Stripe ingestion for this installation."""
        return self.endpoint("stripe")

    async def load_builtin_plugins(self) -> None:
        """Register the shipped plugins (a no-op when unchanged)."""
        for folder in {p.parent for p in builtin_plugin_paths()}:
            await self.plugins.sync_folder(folder)

    async def close(self) -> None:
        """Release connections."""
        for gateway in self.gateways.values():
            await gateway.aclose()
        if self.dns is not None:
            await self.dns.stop()
            self.dns = None
        if isinstance(self.rdns, powerdns.PowerDnsRdns):
            await self.rdns.aclose()
        await self.db.dispose()

    async def start_dns(self) -> dnsserver.DnsServer | None:
        """Serve the internal backend's records over DNS (`network.dnsserver`), once.

        Only with the internal backend and `dns_server_enabled`; the backend's
        forward-confirmed check then asks this server (unless `rdns_nameserver` names
        another). Stopped by `close`.

        Returns:
            The running server, or None when there is none to run.

        Raises:
            errors.InvalidSettings: the address cannot be bound (a port in use, say).
        """
        settings = self.settings
        if not isinstance(self.rdns, InternalRdns) or not settings.dns_server_enabled:
            return None
        if self.dns is None:
            server = dnsserver.DnsServer(
                self.rdns.table,
                host=settings.dns_listen_host,
                port=settings.dns_listen_port,
                nameservers=split_list(settings.dns_nameservers),
            )
            try:
                await server.start()
            except OSError as exc:
                raise errors.InvalidSettings(
                    f"the internal DNS server cannot listen on {settings.dns_listen_host}:"
                    f"{settings.dns_listen_port} ({exc.strerror or exc}): set "
                    "FLUXBILLING_DNS_LISTEN_PORT, or FLUXBILLING_DNS_SERVER_ENABLED=false"
                ) from None
            self.dns = server
            if settings.rdns_nameserver is None:
                self.rdns.nameserver = server.address
        return self.dns


def build(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    rdns: RdnsBackend | None = None,
    dcim: DcimSync | None = None,
    transport_for: TransportFor | None = None,
    resolver: Resolver | None = None,
    switch_ports: SwitchPortBackend | None = None,
) -> Installation:
    """Wire an installation from settings; adapters may be replaced (tests, the demo).

    `switch_ports` replaces the switch `settings.switch_backend` names (and enables
    switch-port jobs even when it names none).

    `dcim` is the inventory system services are synced to (default: NetBox through the
    `dcim_netbox_connection` setting's connection; neither: no sync).
    `resolver` turns connection host names into addresses for the upstream address policy
    (default: the system's resolver); tests serving simulators in-process map their names.
    """
    settings = settings or Settings()
    db = Database(
        settings.database_url,
        # More connections than concurrent runs, so a busy worker never churns its pool, and
        # enough for webhook bursts: overflow connections are closed after use (churn).
        pool_size=max(settings.db_pool_size, settings.worker_concurrency + 2),
        lock_timeout=settings.lease_seconds,
        idle_in_transaction_timeout=settings.lease_seconds * 2,
    )
    vault = Vault(embedded_secret(settings, "secret_key", _plain(settings.secret_key)))
    # The engine runs the order pipeline it is handed; runs move their orders through hooks.
    store = RunStore(
        db, pipeline.PIPELINES, OrderProgress(db), lease_seconds=settings.lease_seconds
    )
    plugins = PluginManager(db)
    connections = ConnectionFactory(
        db, vault, transport_for=transport_for, timeout=settings.http_timeout, resolver=resolver
    )
    # Native drivers (bare metal) register here; every other slug is a visual plugin.
    drivers = DriverRegistry(FlowDrivers(plugins, connections))
    rdns = rdns or _rdns(settings, db, connections, resolver)
    mailer = mailer or SmtpMailer(settings.smtp_host, settings.smtp_port, settings.http_timeout)
    stripe_secret = embedded_secret(
        settings, "stripe_webhook_secret", _plain(settings.stripe_webhook_secret)
    )
    installation = Installation(
        settings=settings,
        db=db,
        vault=vault,
        store=store,
        plugins=plugins,
        drivers=drivers,
        connections=connections,
        rdns=rdns,
        mailer=mailer,
        wakeup=Wakeup(),
        api_token=embedded_secret(settings, "api_token", _plain(settings.api_token)),
        stripe_secrets=[s.strip() for s in stripe_secret.split(",") if s.strip()],
        accounts=_accounts(settings, db),
    )
    installation.gateways = _gateways(settings, installation.stripe_secrets, transport_for)
    logs.register_secret(
        installation.api_token,
        *installation.stripe_secrets,
        *(_plain(settings.secret_key) or "").split(","),
    )
    installation.dcim = _dcim(settings, db, connections, dcim)
    installation.handlers = build_handlers(
        PhaseDeps(
            store=SqlPhaseStore(db, store),
            drivers=drivers,
            vault=vault,
            rdns=rdns,
            mailer=mailer,
            mail_from=settings.mail_from,
            verify_image=hashing.verify_image,
            public_url=settings.public_url,
            reveal_link_hours=settings.reveal_link_hours,
            switching=_switching(settings, db, store, switch_ports),
            dcim=installation.dcim,
            host_quarantine_failures=settings.host_quarantine_failures,
        )
    )
    return installation


def _switching(
    settings: Settings, db: Database, store: RunStore, backend: SwitchPortBackend | None
) -> Switching | None:
    """The switch `settings.switch_backend` names with its jobs (None: no switch-port jobs)."""
    if backend is None and settings.switch_backend == "ovs":
        backend = ovsdb.OvsdbSwitchPorts(settings.switch_ovsdb or "", timeout=settings.http_timeout)
    if backend is None:
        return None
    jobs = SwitchJobs(db, store, quarantine_vlan=settings.switch_quarantine_vlan)
    return Switching(backend, jobs)


def _dcim(
    settings: Settings, db: Database, connections: ConnectionFactory, dcim: DcimSync | None
) -> DcimDeps | None:
    """The inventory system the DCIM sync runs push to, with our records of the pushes."""
    if dcim is None and settings.dcim_netbox_connection:
        name = settings.dcim_netbox_connection
        dcim = NetBoxDcim(ConnectionJson(connections, name), upstream=name)
    return None if dcim is None else DcimDeps(dcim, SqlDcimRecords(db))


def _rdns(
    settings: Settings,
    db: Database,
    connections: ConnectionFactory,
    resolver: Resolver | None,
) -> RdnsBackend:
    """The rDNS backend `settings.rdns_backend` names (settings validated its inputs).

    PowerDNS is called through `powerdns.powerdns_http` (the upstream address policy, the API
    key a redacted secret; always the real server, so no simulator transport); Cloudflare
    through the stored connection the settings name (its simulator transport, if any).
    `rdns_nameserver` names the server the forward-confirmed check asks (PowerDNS: its API's
    host on port 53 without it; internal: the DNS server `Installation.start_dns` starts).
    """
    nameserver = parse_server(settings.rdns_nameserver) if settings.rdns_nameserver else None
    if settings.rdns_backend == "powerdns":
        url = settings.rdns_powerdns_api_url or ""
        http = powerdns.powerdns_http(
            url,
            _plain(settings.rdns_powerdns_api_key) or "",
            allowed_networks=split_list(settings.rdns_powerdns_allowed_networks),
            resolver=resolver,
            timeout=settings.http_timeout,
        )
        return powerdns.PowerDnsRdns(
            http,
            split_list(settings.rdns_powerdns_networks),
            create_zones=settings.rdns_powerdns_create_zones,
            nameservers=split_list(settings.rdns_powerdns_nameservers),
            server_id=settings.rdns_powerdns_server_id,
            forward_zone=settings.rdns_forward_zone,
            dns_server=nameserver or (urlsplit(url).hostname or "127.0.0.1", 53),
        )
    if settings.rdns_backend == "cloudflare":
        name = settings.rdns_cloudflare_connection or ""
        return CloudflareRdns(
            ConnectionJson(connections, name),
            upstream=name,
            forward_zone=settings.rdns_forward_zone,
            nameserver=nameserver,
        )
    return InternalRdns(
        db,
        forward_zone=settings.rdns_forward_zone,
        nameserver=nameserver,
        nameservers=tuple(split_list(settings.dns_nameservers)),
    )


class ConnectionJson:
    """`cloudflare.JsonHttp` over a stored connection: each request opens the connection's
    client (so a rotated token or a changed URL applies at once) and closes it afterwards.

    Args:
        connections: the factory that opens stored connections.
        name: the connection's name.
    """

    def __init__(self, connections: ConnectionFactory, name: str) -> None:
        self.connections = connections
        self.name = name

    async def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Send one request through the connection: `UpstreamHttp.request`'s keywords
        (`operation`, `json_body`, `params`, `expected`); the taxonomy's error unless expected."""
        http = await self.connections.client(self.name, ExchangeRecorder())
        try:
            return await http.request(method, path, **options)
        finally:
            await http.aclose()


def _accounts(settings: Settings, db: Database) -> Accounts:
    """Operator accounts with the settings' hashing cost, session lifetimes and login limit."""
    return Accounts(
        db,
        Passwords(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            concurrency=settings.password_hash_concurrency,
        ),
        SessionPolicy(
            idle=timedelta(seconds=settings.session_idle_timeout),
            lifetime=timedelta(seconds=settings.session_lifetime),
        ),
        LoginPolicy(
            window=timedelta(seconds=settings.login_window),
            per_user=settings.login_failures_per_user,
            per_client=settings.login_failures_per_client,
        ),
    )


def _gateways(
    settings: Settings, stripe_secrets: list[str], transport_for: TransportFor | None
) -> dict[str, Gateway]:
    """The payment gateways this installation has credentials for (Stripe always)."""
    transport = transport_for or (lambda _url: None)
    timeout = settings.http_timeout
    stripe_key = _plain(settings.stripe_api_key)
    stripe_client = None
    if stripe_key:
        stripe_client = stripe_api.connect(
            stripe_key,
            base_url=settings.stripe_api_url,
            transport=transport(settings.stripe_api_url),
            timeout=timeout,
        )
        logs.register_secret(stripe_key)
    gateways: dict[str, Gateway] = {
        "stripe": StripeGateway(
            stripe_secrets, livemode=settings.stripe_livemode, api=stripe_client
        )
    }
    if settings.mollie_api_key is not None:
        mollie_key = settings.mollie_api_key.get_secret_value()
        gateways["mollie"] = mollie_gateway.connect(
            mollie_key,
            base_url=settings.mollie_api_url,
            transport=transport(settings.mollie_api_url),
            timeout=timeout,
            webhook_secrets=_split(settings.mollie_webhook_secret),
        )
        logs.register_secret(mollie_key, *_split(settings.mollie_webhook_secret))
    if settings.paypal_client_id and settings.paypal_client_secret is not None:
        paypal_secret = settings.paypal_client_secret.get_secret_value()
        gateways["paypal"] = paypal_gateway.connect(
            settings.paypal_client_id,
            paypal_secret,
            webhook_id=settings.paypal_webhook_id or "",
            livemode=settings.paypal_livemode,
            base_url=settings.paypal_api_url,
            extra_cert_hosts=[
                h.strip() for h in settings.paypal_extra_cert_hosts.split(",") if h.strip()
            ],
            transport=transport(settings.paypal_api_url or "https://api-m.paypal.com"),
            timeout=timeout,
            verification=settings.paypal_verification,
        )
        logs.register_secret(paypal_secret)
    if settings.coingate_api_token is not None:
        coingate_token = settings.coingate_api_token.get_secret_value()
        gateways["coingate"] = coingate_gateway.connect(
            coingate_token,
            sandbox=settings.coingate_sandbox,
            token_secret=embedded_secret(
                settings, "coingate_token_secret", _plain(settings.coingate_token_secret)
            ),
            base_url=settings.coingate_api_url,
            transport=transport(settings.coingate_api_url or ""),
            timeout=timeout,
        )
        logs.register_secret(coingate_token)
    return gateways


def _split(value: SecretStr | None) -> list[str]:
    return [s.strip() for s in (_plain(value) or "").split(",") if s.strip()]
