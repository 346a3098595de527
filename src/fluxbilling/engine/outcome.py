"""What a phase returns: `Done` or `Pending` (never a sleep), the drivers' own outcome types."""

from __future__ import annotations

from fluxbilling.drivers.outcome import Done, Pending

__all__ = ["Done", "Outcome", "Pending"]

Outcome = Done | Pending
