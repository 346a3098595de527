"""Schema migrations: bring a database to the newest revision (`fluxbilling migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from fluxbilling.db.database import Database

__all__ = ["alembic_config", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url`, with our migrations folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate `db` to `revision` (idempotent)."""

    def _run(connection: object) -> None:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
