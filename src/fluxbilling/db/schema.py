"""Every table, as SQLAlchemy Core metadata; the same columns on SQLite and PostgreSQL.

Migrations in `db/migrations` are written from this file; a test compares the migrated
database with it, so the two cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["InvoiceStatus", "UtcDateTime", "metadata"]


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects (SQLite stores naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given to a UTC column"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite returns text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)  # noqa: S101 - driver contract
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey(target),
        nullable=nullable,
        index=True,
    )


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now())


customers = sa.Table(
    "customers",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    _created(),
)

locations = sa.Table(
    "locations",
    metadata,
    _id(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
)

subnets = sa.Table(
    "subnets",
    metadata,
    _id(),
    _fk("location_id", "locations.id"),
    sa.Column("cidr", sa.String(64), nullable=False, unique=True),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("dns_servers", JSON, nullable=False),
    sa.Column("reverse_zone", sa.String(255), nullable=False),
    # The pool (`allocation.leases`): IP version; `addresses` leases one address per
    # service, `routed` one prefix of `lease_prefix_len` (a /64 out of a /48).
    sa.Column("family", sa.Integer(), nullable=False, server_default="4"),
    sa.Column("kind", sa.String(16), nullable=False, server_default="addresses"),
    sa.Column("lease_prefix_len", sa.Integer(), nullable=True),
    # Scope beyond the location: one host's pool (no foreign key: hosts refer to their
    # subnet), one VLAN.
    sa.Column("host_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    sa.Column("vlan_id", sa.Integer(), nullable=True),
    # Never handed out: addresses, `a-b` ranges or prefixes (as text).
    sa.Column("reserved", JSON, nullable=False, server_default=sa.text("'[]'")),
    # A released lease cools this long before another order gets it.
    sa.Column("cooldown_seconds", sa.Integer(), nullable=False, server_default="3600"),
    # Low-water mark: every assignable ordinal below it is leased (the gap query starts here).
    sa.Column("next_ordinal", sa.BigInteger(), nullable=False, server_default="0"),
)

hosts = sa.Table(
    "hosts",
    metadata,
    _id(),
    _fk("location_id", "locations.id"),
    _fk("subnet_id", "subnets.id", nullable=True),
    _fk("connection_id", "connections.id", nullable=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False, server_default="active"),
    sa.Column("external_ref", sa.String(200), nullable=True),
    sa.Column("ram_mb_total", sa.Integer(), nullable=False),
    sa.Column("ram_mb_used", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("vcpus_total", sa.Integer(), nullable=False),
    sa.Column("vcpus_used", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("disk_gb_total", sa.Integer(), nullable=False),
    sa.Column("disk_gb_used", sa.Integer(), nullable=False, server_default="0"),
    sa.CheckConstraint("ram_mb_used >= 0 AND ram_mb_used <= ram_mb_total", name="ram_fits"),
    sa.CheckConstraint("vcpus_used >= 0 AND vcpus_used <= vcpus_total", name="vcpus_fit"),
    sa.CheckConstraint("disk_gb_used >= 0 AND disk_gb_used <= disk_gb_total", name="disk_fits"),
)

images = sa.Table(
    "images",
    metadata,
    _id(),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("os_family", sa.String(32), nullable=False),
    sa.Column("source_url", sa.String(1000), nullable=False),
    # The expected digest of the source: SHA-256, SHA-512 or both (at least one).
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("sha512", sa.String(128), nullable=True),
    sa.Column("status", sa.String(32), nullable=False, server_default="active"),
    sa.Column("external_ref", sa.String(200), nullable=True),
    sa.Column("user_data_template", sa.Text(), nullable=True),
    sa.CheckConstraint("sha256 IS NOT NULL OR sha512 IS NOT NULL", name="has_digest"),
)

connections = sa.Table(
    "connections",
    metadata,
    _id(),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("base_url", sa.String(1000), nullable=False),
    sa.Column("settings", JSON, nullable=False),
    sa.Column("secrets_sealed", sa.Text(), nullable=False),
    # The upstream address policy's per-connection allowance (loopback/private networks),
    # and who set it when: an admin's explicit, audited decision.
    sa.Column("allowed_networks", JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("networks_allowed_at", UtcDateTime(), nullable=True),
    sa.Column("networks_allowed_by", sa.String(100), nullable=True),
    # `production` or `test`: the builder tests flows against test connections only, unless
    # an admin allows a production one for that test (audited).
    sa.Column("purpose", sa.String(16), nullable=False, server_default="production"),
    _created(),
)

plugin_versions = sa.Table(
    "plugin_versions",
    metadata,
    _id(),
    sa.Column("slug", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("document", JSON, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    _created(),
    sa.UniqueConstraint("slug", "version", name="uq_plugin_versions_slug_version"),
)

products = sa.Table(
    "products",
    metadata,
    _id(),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("service_type", sa.String(32), nullable=False),
    _fk("location_id", "locations.id"),
    _fk("image_id", "images.id", nullable=True),
    _fk("connection_id", "connections.id"),
    sa.Column("plugin_slug", sa.String(100), nullable=False),
    # The plugin version new services pin (NULL: the newest when the service is provisioned).
    sa.Column("plugin_version", sa.Integer(), nullable=True),
    sa.Column("ram_mb", sa.Integer(), nullable=False),
    sa.Column("vcpus", sa.Integer(), nullable=False),
    sa.Column("disk_gb", sa.Integer(), nullable=False),
    sa.Column("price_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("options", JSON, nullable=False),
    # A paid order not active after this many minutes is an alarm on the dashboard
    # (NULL: the installation's default).
    sa.Column("alarm_after_minutes", sa.Integer(), nullable=True),
    # How the welcome mail hands over the root password: in the mail itself (`mail`), or
    # as a one-time, expiring reveal link (`reveal_link`).
    sa.Column("password_delivery", sa.String(16), nullable=False, server_default="mail"),
    # What a service gets from our IPAM: an IPv4 address, an IPv6 address, a routed prefix.
    sa.Column("ipv4_address", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("ipv6_address", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("ipv6_routed", sa.Boolean(), nullable=False, server_default=sa.false()),
)

orders = sa.Table(
    "orders",
    metadata,
    _id(),
    _fk("customer_id", "customers.id"),
    _fk("product_id", "products.id"),
    sa.Column("hostname", sa.String(253), nullable=False, unique=True),
    sa.Column("state", sa.String(32), nullable=False),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_orders_state_id", "state", "id"),
)


class InvoiceStatus(StrEnum):
    """What `invoices.status` holds (stored as these strings).

    ```
    unpaid, pending ──paid──────────────────────► paid ──full refund──► refunded
           │                                       │ ──dispute─────────► disputed
           └──paid, a full refund/dispute of it came first──► refunded, disputed
    refunded, disputed ──that reversal voided (Mollie)──► paid
    ```
    `unpaid` and `pending` are open: a checkout can start and a payment is accepted. Only
    the ledger moves an invoice (`billing.money` decides, `billing.ledger` writes).
    """

    UNPAID = "unpaid"
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


invoices = sa.Table(
    "invoices",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("gateway", sa.String(32), nullable=True),
    sa.Column("gateway_ref", sa.String(255), nullable=True, unique=True),
    sa.Column("paid_at", UtcDateTime(), nullable=True),
    _created(),
    sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
)

payments = sa.Table(
    "payments",
    metadata,
    _id(),
    _fk("invoice_id", "invoices.id"),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("gateway_payment_id", sa.String(255), nullable=False),
    sa.Column("alias_id", sa.String(255), nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _created(),
    sa.UniqueConstraint("gateway", "gateway_payment_id", name="uq_payments_gateway_payment"),
    sa.Index("ix_payments_alias", "gateway", "alias_id"),
)

money_reversals = sa.Table(
    "money_reversals",
    metadata,
    _id(),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("gateway_object_id", sa.String(255), nullable=False),
    sa.Column("gateway_payment_id", sa.String(255), nullable=False),
    _fk("invoice_id", "invoices.id", nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("full", sa.Boolean(), nullable=False),
    sa.Column("applied", sa.String(200), nullable=True),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint(
        "gateway", "kind", "gateway_object_id", name="uq_money_reversals_gateway_object"
    ),
    sa.Index("ix_money_reversals_payment", "gateway", "gateway_payment_id"),
)

payment_attempts = sa.Table(
    "payment_attempts",
    metadata,
    _id(),
    _fk("invoice_id", "invoices.id"),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("gateway_ref", sa.String(255), nullable=False),
    sa.Column("redirect_url", sa.Text(), nullable=False),
    sa.Column("callback_token_hash", sa.String(64), nullable=True),
    _created(),
    sa.Column("checked_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("gateway", "gateway_ref", name="uq_payment_attempts_gateway_ref"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    _id(),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("remote_addr", sa.String(64), nullable=True),
    sa.Column("headers", JSON, nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    # Set when `body` holds only the first bytes (a delivery nobody vouched for): its size and
    # SHA-256 as received. NULL: `body` is the delivery as received.
    sa.Column("body_size", sa.Integer(), nullable=True),
    sa.Column("body_sha256", sa.String(64), nullable=True),
    sa.Column("event_id", sa.String(255), nullable=True, index=True),
    sa.Column("event_type", sa.String(100), nullable=True),
    _fk("invoice_id", "invoices.id", nullable=True),
    sa.Column("verification", sa.String(32), nullable=False, server_default="pending"),
    sa.Column("outcome", sa.String(32), nullable=True, index=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    # The storage caps count unverified and pending deliveries per source address.
    sa.Index("ix_webhook_events_verification_remote_addr", "verification", "remote_addr"),
    sa.Index("ix_webhook_events_outcome_received_at", "outcome", "received_at"),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("gateway", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    _fk("delivery_id", "webhook_events.id"),
    _created(),
)

services = sa.Table(
    "services",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    sa.Column("status", sa.String(32), nullable=False),
    _fk("host_id", "hosts.id", nullable=True),
    sa.Column("plugin_slug", sa.String(100), nullable=True),
    sa.Column("plugin_version", sa.Integer(), nullable=True),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("service_data", JSON, nullable=False),
    sa.Column("root_password_sealed", sa.Text(), nullable=True),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("order_id", name="uq_services_order_id"),
    sa.Index("ix_services_status_id", "status", "id"),
)

reveal_links = sa.Table(
    "reveal_links",
    metadata,
    _id(),
    _fk("service_id", "services.id"),
    # SHA-256 (hex) of the link's token: the token itself is only in the mail that was sent.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    # Set once, by the one request that reveals the password (the link is then spent).
    sa.Column("used_at", UtcDateTime(), nullable=True),
    # Set when a newer link or a password reset replaced it before it was used.
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    _created(),
)

ip_addresses = sa.Table(
    "ip_addresses",
    metadata,
    _id(),
    _fk("subnet_id", "subnets.id"),
    sa.Column("address", sa.String(64), nullable=False),
    _fk("order_id", "orders.id", nullable=True),
    _fk("service_id", "services.id", nullable=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("assigned_at", UtcDateTime(), nullable=True),
    # The lease (`allocation.leases`): offset of the address (or of the routed prefix) in
    # its pool, the family and kind of its pool, the routed prefix's length.
    sa.Column("ordinal", sa.BigInteger(), nullable=False),
    sa.Column("family", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("prefix_len", sa.Integer(), nullable=True),
    _fk("last_order_id", "orders.id", nullable=True),
    sa.Column("leased_at", UtcDateTime(), nullable=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
    sa.Column("cooldown_until", UtcDateTime(), nullable=True),
    # The PTR the network phase published for it (cleared when it is deleted).
    sa.Column("ptr_zone", sa.String(255), nullable=True),
    sa.Column("ptr_name", sa.String(255), nullable=True),
    sa.Column("ptr_content", sa.String(1000), nullable=True),
    sa.UniqueConstraint("subnet_id", "address", name="uq_ip_addresses_subnet_address"),
    sa.UniqueConstraint("subnet_id", "ordinal", name="uq_ip_addresses_subnet_ordinal"),
    sa.UniqueConstraint("order_id", "family", "kind", name="uq_ip_addresses_order_family_kind"),
    sa.Index("ix_ip_addresses_subnet_state_cooldown", "subnet_id", "state", "cooldown_until"),
)

dns_records = sa.Table(
    "dns_records",
    metadata,
    _id(),
    sa.Column("zone", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("content", sa.String(1000), nullable=False),
    sa.Column("ttl", sa.Integer(), nullable=False),
    sa.UniqueConstraint("name", "type", name="uq_dns_records_name_type"),
)

runs = sa.Table(
    "runs",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_run_at", UtcDateTime(), nullable=False),
    sa.Column("phase_started_at", UtcDateTime(), nullable=False),
    sa.Column("wait_reason", sa.String(500), nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_token", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", JSON, nullable=True),
    sa.Column("last_upstream", JSON, nullable=True),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Index("ix_runs_claim", "state", "next_run_at"),
    sa.Index("ix_runs_kind_state_phase", "kind", "state", "phase"),
)

service_actions = sa.Table(
    "service_actions",
    metadata,
    _id(),
    _fk("service_id", "services.id"),
    _fk("order_id", "orders.id"),
    _fk("run_id", "runs.id"),
    sa.Column("verb", sa.String(32), nullable=False),
    sa.Column("params", JSON, nullable=False),
    sa.Column("plugin_slug", sa.String(100), nullable=False),
    sa.Column("plugin_version", sa.Integer(), nullable=False),
    sa.Column("secret_sealed", sa.Text(), nullable=True),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("result", JSON, nullable=True),
    _created(),
    sa.UniqueConstraint("run_id", name="uq_service_actions_run_id"),
    sa.Index("ix_service_actions_service", "service_id", "id"),
)

phase_checkpoints = sa.Table(
    "phase_checkpoints",
    metadata,
    _id(),
    _fk("run_id", "runs.id"),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("correlation_key", sa.String(255), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("output", JSON, nullable=True),
    sa.Column("cursor", JSON, nullable=True),
    sa.Column("upstream_ref", sa.String(255), nullable=True),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

activity_log = sa.Table(
    "activity_log",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    _fk("run_id", "runs.id", nullable=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("phase", sa.String(32), nullable=True),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("data", JSON, nullable=False),
    sa.Column("lease_token", sa.BigInteger(), nullable=True),
    sa.Column("worker", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("entity_id", sa.String(200), nullable=True),
    sa.Column("changes", JSON, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_audit_log_entity", "entity", "entity_id"),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("password_changed_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

sessions = sa.Table(
    "sessions",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    sa.Column("id_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_hash", sa.String(64), nullable=False),
    _created(),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    _created(),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    _id(),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("succeeded", sa.Boolean(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_login_attempts_username_at", "username", "at"),
    sa.Index("ix_login_attempts_client_at", "client", "at"),
    sa.Index("ix_login_attempts_at", "at"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

outgoing_mail = sa.Table(
    "outgoing_mail",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    sa.Column("template", sa.String(100), nullable=False),
    sa.Column("to_addr", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("body_masked", sa.Text(), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    _created(),
    sa.UniqueConstraint("order_id", "template", name="uq_outgoing_mail_order_template"),
)
