"""What the phases need from the outside world, wired once by `bootstrap`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.handoff.mail import Mailer
from fluxbilling.network.rdns import RdnsBackend
from fluxbilling.orders.phases.store import PhaseStore
from fluxbilling.vault import Vault

__all__ = ["ImageVerifier", "PhaseDeps", "plain"]


class ImageVerifier(Protocol):
    """Checks an image's bytes against its recorded digest (`images.hashing.verify_image`)."""

    async def __call__(self, url: str, expected: str) -> None:
        """Read the image at `url` and compare digests (`expected`: SHA-256 or SHA-512 hex).

        Raises:
            errors.PermanentUpstreamError: the digests differ, or the image cannot be read.
            errors.TransientUpstreamError: reading it failed in a way worth retrying.
        """
        ...


@dataclass(frozen=True, slots=True)
class PhaseDeps:
    """The ports the phase handlers use.

    Attributes:
        public_url: Where customers reach this installation (`Settings.public_url`): the
            welcome mail's password reveal links start with it.
        reveal_link_hours: How long such a link stays valid (`Settings.reveal_link_hours`).
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
