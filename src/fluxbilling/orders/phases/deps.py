"""What the phases need from the outside world, wired once by `bootstrap`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.handoff.mail import Mailer
from fluxbilling.network.dcim_drift import Drift
from fluxbilling.network.dcim_sync import DcimSync, Facts, Pushed, SyncResult
from fluxbilling.network.rdns import RdnsBackend
from fluxbilling.orders.phases.store import PhaseStore
from fluxbilling.orders.phases.switch_port import Switching
from fluxbilling.vault import Vault

__all__ = ["DcimDeps", "DcimRecords", "ImageVerifier", "PhaseDeps", "plain"]


class ImageVerifier(Protocol):
    """Checks an image's bytes against its recorded digest (`images.hashing.verify_image`)."""

    async def __call__(self, url: str, expected: str) -> None:
        """Read the image at `url` and compare digests (`expected`: SHA-256 or SHA-512 hex).

        Raises:
            errors.PermanentUpstreamError: the digests differ, or the image cannot be read.
            errors.TransientUpstreamError: reading it failed in a way worth retrying.
        """
        ...


class DcimRecords(Protocol):
    """Our DCIM records as the sync reads and writes them (`network.dcim_store`)."""

    async def facts(self, service_id: int) -> Facts | None:
        """What the sync pushes for the service (None: nothing recorded)."""
        ...

    async def pushed(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Pushed]:
        """What we last wrote to the objects `keys` names."""
        ...

    async def save(self, conn: AsyncConnection, service_id: int, result: SyncResult) -> list[Drift]:
        """Keep the sync's result in `conn`; answer the newly detected drift."""
        ...


@dataclass(frozen=True, slots=True)
class DcimDeps:
    """The inventory system (NetBox) and our records of what was pushed to it."""

    sync: DcimSync
    records: DcimRecords


@dataclass(frozen=True, slots=True)
class PhaseDeps:
    """The ports the phase handlers use.

    Attributes:
        public_url: Where customers reach this installation (`Settings.public_url`): the
            welcome mail's password reveal links start with it.
        reveal_link_hours: How long such a link stays valid (`Settings.reveal_link_hours`).
        switching: The switch and its jobs (None: `FLUXBILLING_SWITCH_BACKEND=none`, no
            switch-port jobs are enqueued).
        host_quarantine_failures: Provision failures in a row that quarantine a host
            (`Settings.host_quarantine_failures`, 0: never).
    """

    store: PhaseStore
    drivers: DriverRegistry
    vault: Vault
    rdns: RdnsBackend
    mailer: Mailer
    mail_from: str
    verify_image: ImageVerifier
    public_url: str
    reveal_link_hours: int
    support_team: str = "The FluxBilling hosting team"
    switching: Switching | None = None
    dcim: DcimDeps | None = None
    """The inventory system to sync services to (None: our records only, no sync runs)."""
    host_quarantine_failures: int = 3


def plain(value: Any) -> Any:
    """A JSON-safe copy of row data (datetimes as ISO strings, bytes dropped)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
