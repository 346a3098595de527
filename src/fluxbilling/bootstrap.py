"""The composition root: the one place that reads settings and wires adapters together."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from fluxbilling import errors, logs
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.billing.webhooks import StripeEndpoint
from fluxbilling.config import Settings
from fluxbilling.db import Database
from fluxbilling.drivers.connections import ConnectionFactory, TransportFor
from fluxbilling.engine.context import PhaseHandler
from fluxbilling.engine.runs import RunStore
from fluxbilling.engine.wakeup import Wakeup
from fluxbilling.engine.worker import Worker
from fluxbilling.handoff.mail import Mailer, SmtpMailer
from fluxbilling.network.rdns import InternalRdns, RdnsBackend
from fluxbilling.orders.phases import PhaseDeps, build_handlers
from fluxbilling.orders.pipeline import Phase
from fluxbilling.plugins.manager import PluginManager
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.vault import Vault, load_or_create_key

__all__ = ["Installation", "build", "embedded_secret"]


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
    connections: ConnectionFactory
    rdns: RdnsBackend
    mailer: Mailer
    wakeup: Wakeup
    api_token: str
    stripe_secrets: list[str]
    handlers: dict[Phase, PhaseHandler] = field(default_factory=dict)

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

    def stripe_endpoint(self) -> StripeEndpoint:
        """Stripe ingestion for this installation, with its refund/chargeback policy."""
        return StripeEndpoint(
            self.db,
            self.store,
            self.stripe_secrets,
            livemode=self.settings.stripe_livemode,
            policy=ReversalPolicy(self.db, self.store, self.plugins, self.vault),
        )

    async def load_builtin_plugins(self) -> None:
        """Register the shipped plugins (a no-op when unchanged)."""
        for folder in {p.parent for p in builtin_plugin_paths()}:
            await self.plugins.sync_folder(folder)

    async def close(self) -> None:
        """Release connections."""
        await self.db.dispose()


def build(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    rdns: RdnsBackend | None = None,
    transport_for: TransportFor | None = None,
) -> Installation:
    """Wire an installation from settings; adapters may be replaced (tests, the demo)."""
    settings = settings or Settings()
    db = Database(
        settings.database_url,
        # More connections than concurrent runs, so a busy worker never churns its pool.
        pool_size=max(5, settings.worker_concurrency + 2),
        lock_timeout=settings.lease_seconds,
        idle_in_transaction_timeout=settings.lease_seconds * 2,
    )
    vault = Vault(embedded_secret(settings, "secret_key", _plain(settings.secret_key)))
    store = RunStore(db, lease_seconds=settings.lease_seconds)
    plugins = PluginManager(db)
    connections = ConnectionFactory(
        db, vault, transport_for=transport_for, timeout=settings.http_timeout
    )
    rdns = rdns or InternalRdns(db)
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
        connections=connections,
        rdns=rdns,
        mailer=mailer,
        wakeup=Wakeup(),
        api_token=embedded_secret(settings, "api_token", _plain(settings.api_token)),
        stripe_secrets=[s.strip() for s in stripe_secret.split(",") if s.strip()],
    )
    logs.register_secret(
        installation.api_token,
        *installation.stripe_secrets,
        *(_plain(settings.secret_key) or "").split(","),
    )
    installation.handlers = build_handlers(
        PhaseDeps(
            db=db,
            store=store,
            vault=vault,
            plugins=plugins,
            connections=connections,
            rdns=rdns,
            mailer=mailer,
            mail_from=settings.mail_from,
        )
    )
    return installation
