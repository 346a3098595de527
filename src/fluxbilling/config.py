"""Typed settings read once from `FLUXBILLING_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fluxbilling import limits

__all__ = ["Settings", "parse_server", "split_list"]


class Settings(BaseSettings):
    """Installation settings; every field maps to `FLUXBILLING_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="FLUXBILLING_", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///.fluxbilling/fluxbilling.db",
        description="SQLAlchemy async URL; postgresql+asyncpg://... for production.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Installation key (Fernet, urlsafe base64). Comma-separated: first encrypts, all decrypt.",
    )
    state_dir: Path = Path(".fluxbilling")
    api_token: SecretStr | None = None
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where gateways and customers reach this installation (webhook, return and "
        "password reveal URLs).",
    )
    reveal_link_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 30,
        description="Hours a one-time password reveal link (products with password_delivery "
        "reveal_link) stays valid.",
    )
    host_quarantine_failures: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="Provision-phase driver failures in a row that quarantine a host "
        "(0: never quarantine).",
    )
    plugin_import_hosts: str = Field(
        default="",
        max_length=4000,
        description="Comma-separated host names plugin documents may be imported from by URL "
        "(POST /api/v1/plugins/import, https only, public addresses only); empty: import by "
        "URL is off.",
    )
    stripe_webhook_secret: SecretStr | None = None
    stripe_livemode: bool = False
    stripe_api_key: SecretStr | None = Field(
        default=None, description="Secret key (sk_...): checkout and reconciliation."
    )
    stripe_api_url: str = "https://api.stripe.com"
    mollie_api_key: SecretStr | None = Field(
        default=None, description="API key; its prefix (test_/live_) sets the mode."
    )
    mollie_api_url: str = "https://api.mollie.com"
    mollie_webhook_secret: SecretStr | None = Field(
        default=None, description="Next-gen webhook signing secrets, comma-separated (rotation)."
    )
    paypal_client_id: str | None = None
    paypal_client_secret: SecretStr | None = None
    paypal_webhook_id: str | None = None
    paypal_livemode: bool = False
    paypal_api_url: str | None = Field(
        default=None, description="Default: PayPal's live or sandbox API by paypal_livemode."
    )
    paypal_verification: Literal["self", "postback"] = "self"
    paypal_extra_cert_hosts: str = Field(
        default="",
        description="Test only: extra hosts allowed to serve signing certificates (a simulator).",
    )
    coingate_api_token: SecretStr | None = None
    coingate_sandbox: bool = True
    coingate_api_url: str | None = None
    coingate_token_secret: SecretStr | None = Field(
        default=None, description="HMAC key for stored per-order callback tokens."
    )
    hold_ttl_minutes: int = Field(
        default=30,
        ge=0,
        le=7 * 24 * 60,
        description="Minutes a checkout holds host capacity and an address for its order "
        "(reserve-then-charge; a new checkout of the invoice extends it; 0: no holds).",
    )
    reconcile_interval: float = Field(
        default=300.0, description="Seconds between reconciler passes (0: never)."
    )
    reconcile_after: float = Field(
        default=600.0,
        description="Age in seconds after which an open checkout or a deferred delivery is re-checked.",
    )
    webhook_rejected_body_bytes: int = Field(
        default=4096,
        ge=0,
        description="Bytes of the body kept for a webhook delivery nobody vouched for (refused, "
        "or naming an object nobody knows); its size and SHA-256 are kept too.",
    )
    webhook_unverified_per_source: int = Field(
        default=100,
        ge=1,
        description="Deliveries nobody vouched for kept per remote address; the oldest beyond go.",
    )
    webhook_unverified_total: int = Field(
        default=10_000,
        ge=1,
        description="Deliveries nobody vouched for kept in all; the oldest beyond go.",
    )
    webhook_pending_per_source: int = Field(
        default=100,
        ge=1,
        description="Deliveries of one remote address that may wait for their gateway to tell "
        "whether they are authentic (Mollie pings, CoinGate, PayPal); beyond: 503, not stored.",
    )
    webhook_pending_total: int = Field(
        default=1000,
        ge=1,
        description="Deliveries that may wait for their gateway at once, in all; beyond: 503.",
    )
    webhook_failed_attempts: int = Field(
        default=5,
        ge=1,
        description="Failed processing attempts (an error raised) before a delivery is quarantined.",
    )
    webhook_deferred_attempts: int = Field(
        default=20,
        ge=1,
        description="Attempts that could not ask the gateway before a delivery is quarantined.",
    )
    rdns_backend: Literal["internal", "powerdns", "cloudflare"] = Field(
        default="internal",
        description="Where PTR records go: our own zones (internal), a PowerDNS Authoritative "
        "server (rdns_powerdns_*) or Cloudflare (rdns_cloudflare_connection).",
    )
    rdns_powerdns_api_url: str | None = Field(
        default=None, description="PowerDNS API base, e.g. http://127.0.0.1:8081/api/v1."
    )
    rdns_powerdns_api_key: SecretStr | None = Field(
        default=None, description="PowerDNS X-API-Key (a secret: never logged or shown)."
    )
    rdns_powerdns_server_id: str = Field(
        default="localhost", description="PowerDNS server id (the Authoritative server: localhost)."
    )
    rdns_powerdns_networks: str = Field(
        default="",
        description="Comma-separated prefixes delegated to PowerDNS; they decide each PTR's "
        "zone (RFC 2317 zones for IPv4 blocks smaller than a /24).",
    )
    rdns_powerdns_create_zones: bool = Field(
        default=True, description="Create a missing reverse zone before writing into it."
    )
    rdns_powerdns_nameservers: str = Field(
        default="ns1.fluxbilling.invalid.",
        description="Comma-separated NS names of reverse zones created on PowerDNS.",
    )
    rdns_powerdns_allowed_networks: str = Field(
        default="",
        description="Comma-separated private or loopback networks the PowerDNS API may live in "
        "(public addresses are always reachable).",
    )
    rdns_cloudflare_connection: str | None = Field(
        default=None,
        description="Name of the stored `cloudflare` connection that holds the API token.",
    )
    switch_backend: Literal["none", "ovs"] = Field(
        default="none",
        description="Where switch-port jobs move hosts' edge ports: nowhere (none: no jobs "
        "are enqueued) or an Open vSwitch through its OVSDB server (switch_ovsdb).",
    )
    switch_ovsdb: str | None = Field(
        default=None,
        description="The OVSDB server of the Open vSwitch: tcp:HOST:PORT or unix:PATH.",
    )
    switch_quarantine_vlan: int = Field(
        default=4094,
        ge=1,
        le=4094,
        description="The VLAN nothing else is on: a terminated bare-metal machine's port goes "
        "there, and it stands in for the last VLAN taken off a trunk (an empty trunk set "
        "would carry every VLAN on Open vSwitch).",
    )
    rdns_forward_zone: str | None = Field(
        default=None,
        description="The zone the hosts' A/AAAA records go into (the forward half of a "
        "forward-confirmed PTR); every order's host name must be in it. Unset: each host "
        "name's parent domain (vps1.example.com -> example.com).",
    )
    rdns_nameserver: str | None = Field(
        default=None,
        description="host:port of the authoritative DNS server the network phase asks before "
        "it completes (PTR and A/AAAA as published). Needed by the Cloudflare backend; "
        "PowerDNS defaults to its API's host on port 53; the internal backend to our own DNS "
        "server (dns_*), or, in a process that does not run it, this setting.",
    )
    dns_server_enabled: bool = Field(
        default=True,
        description="Serve the internal backend's records over DNS (UDP and TCP) in the "
        "process that serves the API. Off: the network phase reads the answers from the "
        "table instead of asking a server.",
    )
    dns_listen_host: str = Field(
        default="127.0.0.1", description="The address the internal DNS server listens on."
    )
    dns_listen_port: int = Field(
        default=8053,
        ge=0,
        le=65535,
        description="The port of the internal DNS server, UDP and TCP (0: any free one, "
        "which only this process then knows).",
    )
    dns_nameservers: str = Field(
        default="ns1.fluxbilling.invalid.",
        description="Comma-separated NS names of the internal DNS server's zones (the first "
        "is the SOA's primary).",
    )
    dcim_netbox_connection: str | None = Field(
        default=None,
        description="Name of the stored `netbox` connection (API root and token) each "
        "provisioned service's site, rack, device, interface and address are synced to; "
        "unset: our DCIM records only.",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "noreply@fluxbilling.local"
    lease_seconds: float = 30.0
    poll_interval: float = 1.0
    worker_concurrency: int = 8
    db_pool_size: int = Field(
        default=16,
        description="PostgreSQL connections kept per process (as many again may overflow): "
        "webhook bursts and the worker share them.",
    )
    http_timeout: float = 10.0
    max_body_bytes: int = Field(
        default=limits.API_BYTES,
        ge=4 * limits.KIB,
        description="Largest API request body in bytes (413 above it). Webhook bodies (256 KiB) "
        "and plugin documents (2 MiB) have fixed limits of their own.",
    )
    max_header_bytes: int = Field(
        default=limits.HEADER_BYTES,
        ge=4 * limits.KIB,
        description="Largest request head in bytes, all header lines together (431 above it).",
    )
    console_dir: Path | None = Field(
        default=None,
        description="The built operator console served at / (default: the one in the package).",
    )
    session_idle_timeout: int = Field(
        default=1800,
        ge=60,
        description="Seconds a console session may sit unused before it ends (sign in again).",
    )
    session_lifetime: int = Field(
        default=12 * 3600,
        ge=300,
        description="Seconds a console session lasts at most, however busy it is.",
    )
    login_window: int = Field(
        default=900,
        ge=1,
        description="Seconds over which failed logins are counted by the login rate limit.",
    )
    login_failures_per_user: int = Field(
        default=5,
        ge=1,
        description="Failed logins for one username within login_window before 429 (a "
        "successful login clears them).",
    )
    login_failures_per_client: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address within login_window before 429.",
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="argon2id passes (RFC 9106 second recommendation: 3)."
    )
    password_hash_memory_kib: int = Field(
        default=64 * 1024,
        ge=64,
        description="argon2id memory per hash in KiB (RFC 9106 second recommendation: 64 MiB).",
    )
    password_hash_concurrency: int = Field(
        default=2,
        ge=1,
        description="Password hashes computed at once (each in a worker thread); logins beyond "
        "16 waiting for one are answered 429.",
    )
    alarm_after_minutes: int = Field(
        default=30,
        ge=1,
        le=525600,
        description="A paid order not active after this many minutes is a dashboard alarm "
        "(a product's own `alarm_after_minutes` wins).",
    )
    event_streams: int = Field(
        default=64,
        ge=1,
        description="Server-sent event streams (`GET /api/v1/events`) open at once per "
        "process; one more is answered 503.",
    )
    events_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the event feed's reads of the database (shared by every "
        "stream of the process).",
    )
    events_heartbeat: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between keep-alive comments on an idle event stream (a client "
        "that went away is noticed by then at the latest).",
    )
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080

    @model_validator(mode="after")
    def _rdns_backend_complete(self) -> Settings:
        """Each rDNS backend has what it needs (the message names the missing setting)."""
        missing: list[str] = []
        if self.rdns_backend == "powerdns":
            if not self.rdns_powerdns_api_url:
                missing.append("FLUXBILLING_RDNS_POWERDNS_API_URL")
            key = self.rdns_powerdns_api_key
            if key is None or not key.get_secret_value():
                missing.append("FLUXBILLING_RDNS_POWERDNS_API_KEY")
            if not split_list(self.rdns_powerdns_networks):
                missing.append("FLUXBILLING_RDNS_POWERDNS_NETWORKS")
        elif self.rdns_backend == "cloudflare" and not self.rdns_cloudflare_connection:
            missing.append("FLUXBILLING_RDNS_CLOUDFLARE_CONNECTION")
        if missing:
            raise ValueError(
                f"FLUXBILLING_RDNS_BACKEND={self.rdns_backend} needs " + ", ".join(missing)
            )
        if self.rdns_nameserver is not None:
            try:
                parse_server(self.rdns_nameserver)
            except ValueError as exc:
                raise ValueError(f"FLUXBILLING_RDNS_NAMESERVER: {exc}") from None
        return self

    @model_validator(mode="after")
    def _switch_backend_complete(self) -> Settings:
        """The OVS backend names its OVSDB server, in a form it can reach."""
        if self.switch_backend == "ovs":
            address = self.switch_ovsdb or ""
            kind, _, rest = address.partition(":")
            if kind not in ("tcp", "unix") or not rest:
                raise ValueError(
                    "FLUXBILLING_SWITCH_BACKEND=ovs needs FLUXBILLING_SWITCH_OVSDB "
                    "(tcp:HOST:PORT or unix:PATH)"
                )
        return self


def parse_server(value: str, *, default_port: int = 53) -> tuple[str, int]:
    """`host[:port]` (`[v6]:port` for IPv6) as `(host, port)`.

    Raises:
        ValueError: no host, or a port that is not a number in 1-65535.

    Examples:
        >>> parse_server("127.0.0.1:5300")
        ('127.0.0.1', 5300)
        >>> parse_server("[::1]:53")
        ('::1', 53)
        >>> parse_server("192.0.2.53")
        ('192.0.2.53', 53)
    """
    text = value.strip()
    port = str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host = text
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a DNS server address (host:port): {value!r}")
    return host, int(port)


def split_list(value: str) -> list[str]:
    """The non-empty items of a comma-separated setting, stripped."""
    return [item.strip() for item in value.split(",") if item.strip()]
