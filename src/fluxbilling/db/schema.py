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


def _one_to_one(name: str, target: str) -> sa.Column[int]:
    """A required reference that no two rows share (its unique constraint is its index)."""
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey(target),
        nullable=False,
        unique=True,
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
    # The VLAN the pool's addresses live on (1-4094, checked by the API); a service on it
    # gets its host's edge port moved there by a switch-port job. NULL: no VLAN to move.
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
    # The switch port the host hangs off (its name on the switch); NULL: not managed.
    sa.Column("switch_port", sa.String(200), nullable=True),
    sa.Column("ram_mb_total", sa.Integer(), nullable=False),
    sa.Column("ram_mb_used", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("vcpus_total", sa.Integer(), nullable=False),
    sa.Column("vcpus_used", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("disk_gb_total", sa.Integer(), nullable=False),
    sa.Column("disk_gb_used", sa.Integer(), nullable=False, server_default="0"),
    # Where the machine stands (DCIM): a rack of its location and its lowest unit, or unknown.
    _fk("rack_id", "racks.id", nullable=True),
    sa.Column("rack_position", sa.Integer(), nullable=True),
    # Placement (`allocation.choice`): what products may require of a host. A host without
    # rows in `host_storage_pools` places disks on its `disk_gb_*` columns (one implicit pool).
    sa.Column("region", sa.String(64), nullable=False, server_default=""),
    sa.Column("cpu_model", sa.String(200), nullable=False, server_default=""),
    sa.Column("cpu_flags", JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("tags", JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("nic_mbps_total", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("nic_mbps_used", sa.Integer(), nullable=False, server_default="0"),
    # Provision-phase driver failures in a row on this host; at the installation's limit the
    # host is quarantined with the reason (a success resets it).
    sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("quarantine_reason", sa.Text(), nullable=True),
    sa.Column("quarantined_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint("ram_mb_used >= 0 AND ram_mb_used <= ram_mb_total", name="ram_fits"),
    sa.CheckConstraint("vcpus_used >= 0 AND vcpus_used <= vcpus_total", name="vcpus_fit"),
    sa.CheckConstraint("disk_gb_used >= 0 AND disk_gb_used <= disk_gb_total", name="disk_fits"),
    sa.CheckConstraint("nic_mbps_used >= 0 AND nic_mbps_used <= nic_mbps_total", name="nic_fits"),
    # The reserve path's prefilter: a location's active hosts of one panel, by free RAM.
    sa.Index("ix_hosts_placement", "location_id", "connection_id", "status"),
)

host_storage_pools = sa.Table(
    "host_storage_pools",
    metadata,
    _id(),
    _fk("host_id", "hosts.id"),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("total_gb", sa.Integer(), nullable=False),
    sa.Column("used_gb", sa.Integer(), nullable=False, server_default="0"),
    # 150 = the pool may promise 1.5x its size (thin provisioning).
    sa.Column("overcommit_percent", sa.Integer(), nullable=False, server_default="100"),
    sa.UniqueConstraint("host_id", "name", name="uq_host_storage_pools_host_id_name"),
    sa.CheckConstraint("total_gb >= 0", name="total_not_negative"),
    sa.CheckConstraint("overcommit_percent >= 100", name="overcommit_at_least_100"),
    sa.CheckConstraint(
        "used_gb >= 0 AND used_gb * 100 <= total_gb * overcommit_percent", name="used_fits"
    ),
)

# DCIM: a location is a site. Racks stand in a site; hosts (and devices we do not run, such
# as switches, named only) have ports; a cable joins two ports. `dcim_assignments` is each
# service's interface and address; `dcim_pushed` what we last wrote to the inventory system
# (NetBox) per object, and `dcim_drift` the fields someone else changed there since.
racks = sa.Table(
    "racks",
    metadata,
    _id(),
    _fk("location_id", "locations.id"),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("units", sa.Integer(), nullable=False),
    sa.CheckConstraint("units >= 1 AND units <= 100", name="units_range"),
)

ports = sa.Table(
    "ports",
    metadata,
    _id(),
    # the natural key: "<host or device>/<name>" (`kvm-ams1-01/eth0`, `sw1/ge-0/0/1`)
    sa.Column("port", sa.String(200), nullable=False, unique=True),
    _fk("host_id", "hosts.id", nullable=True),
    sa.Column("device", sa.String(100), nullable=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("mac", sa.String(17), nullable=True),
    sa.Column("speed_mbps", sa.Integer(), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.UniqueConstraint("host_id", "name", name="uq_ports_host_name"),
    sa.UniqueConstraint("device", "name", name="uq_ports_device_name"),
    sa.CheckConstraint("(host_id IS NULL) <> (device IS NULL)", name="one_owner"),
)

cables = sa.Table(
    "cables",
    metadata,
    _id(),
    _one_to_one("port_a_id", "ports.id"),
    _one_to_one("port_b_id", "ports.id"),
    sa.Column("label", sa.String(100), nullable=False, unique=True),
    sa.CheckConstraint("port_a_id <> port_b_id", name="two_ports"),
)

dcim_assignments = sa.Table(
    "dcim_assignments",
    metadata,
    _id(),
    _one_to_one("service_id", "services.id"),
    _fk("host_id", "hosts.id", nullable=True),
    sa.Column("interface", sa.String(64), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("dns_name", sa.String(255), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
)

dcim_pushed = sa.Table(
    "dcim_pushed",
    metadata,
    _id(),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("remote_id", sa.BigInteger(), nullable=False),
    sa.Column("fields", JSON, nullable=False),
    sa.Column("pushed_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("kind", "key", name="uq_dcim_pushed_kind_key"),
)

dcim_drift = sa.Table(
    "dcim_drift",
    metadata,
    _id(),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("remote_id", sa.BigInteger(), nullable=True),
    sa.Column("ours", JSON, nullable=True),
    sa.Column("theirs", JSON, nullable=True),
    sa.Column("pushed", JSON, nullable=True),
    _fk("service_id", "services.id", nullable=True),
    sa.Column("detected_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Index("ix_dcim_drift_open", "resolved_at", "id"),
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
    # The product's firewall policy (`network.firewall`); NULL: the defaults.
    sa.Column("firewall", JSON, nullable=True),
    # Placement: what a host must offer (`allocation.choice.Need`), and how hosts that fit rank.
    sa.Column("cpu_flags", JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("cpu_model", sa.String(200), nullable=True),
    sa.Column("storage_type", sa.String(32), nullable=True),
    sa.Column("region", sa.String(64), nullable=True),
    sa.Column("host_tags", JSON, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("nic_mbps", sa.Integer(), nullable=False, server_default="0"),
    # At most this many services of one customer on one host (NULL: no anti-affinity).
    sa.Column("max_per_host", sa.Integer(), nullable=True),
    sa.Column("placement_strategy", sa.String(16), nullable=False, server_default="spread"),
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
    # The host storage pool its disk is reserved on (NULL: the host's own disk_gb columns).
    _fk("storage_pool_id", "host_storage_pools.id", nullable=True),
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

holds = sa.Table(
    "holds",
    metadata,
    _id(),
    _fk("order_id", "orders.id"),
    _fk("host_id", "hosts.id"),
    _fk("subnet_id", "subnets.id", nullable=True),
    # The storage pool the disk is held on (NULL: the host's own disk columns).
    _fk("storage_pool_id", "host_storage_pools.id", nullable=True),
    # What the checkout reserved: given back as recorded when the hold is released or expires.
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("ram_mb", sa.Integer(), nullable=False),
    sa.Column("vcpus", sa.Integer(), nullable=False),
    sa.Column("disk_gb", sa.Integer(), nullable=False),
    sa.Column("nic_mbps", sa.Integer(), nullable=False, server_default="0"),
    # held, consumed, released or expired (`allocation.holds.HoldState`).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    # From the database clock: now + FLUXBILLING_HOLD_TTL_MINUTES, moved on by a new checkout.
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("order_id", name="uq_holds_order_id"),
    # The sweeper: held holds past their deadline, oldest first.
    sa.Index("ix_holds_state_expires_at", "state", "expires_at"),
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

switch_port_jobs = sa.Table(
    "switch_port_jobs",
    metadata,
    _id(),
    _fk("run_id", "runs.id"),
    _fk("order_id", "orders.id"),
    _fk("service_id", "services.id"),
    _fk("host_id", "hosts.id"),
    sa.Column("port", sa.String(200), nullable=False),
    sa.Column("vlan", sa.Integer(), nullable=False),
    # `network.switchport.SwitchOp`: access, trunk_add, trunk_remove.
    sa.Column("operation", sa.String(32), nullable=False),
    # What the job read back from the switch when it finished (or why it kept the VLAN).
    sa.Column("result", JSON, nullable=True),
    _created(),
    sa.UniqueConstraint("run_id", name="uq_switch_port_jobs_run_id"),
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
