"""Typed settings read once from `FLUXBILLING_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


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
    stripe_webhook_secret: SecretStr | None = None
    stripe_livemode: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "noreply@fluxbilling.local"
    lease_seconds: float = 30.0
    poll_interval: float = 1.0
    worker_concurrency: int = 8
    http_timeout: float = 10.0
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
