"""The five phases a worker executes after billing, and the dependencies they share.

Each handler follows `engine.context.PhaseHandler`: `execute` talks to the outside world
(idempotently, by correlation key), `commit` writes inside the fenced completion transaction.
"""

from __future__ import annotations

from fluxbilling.engine.context import PhaseHandler
from fluxbilling.orders.phases.allocation import AllocationPhase
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.phases.handoff import HandoffPhase
from fluxbilling.orders.phases.network import NetworkPhase
from fluxbilling.orders.phases.os_install import OsInstallPhase
from fluxbilling.orders.phases.provision import ProvisionPhase
from fluxbilling.orders.pipeline import Phase

__all__ = [
    "AllocationPhase",
    "HandoffPhase",
    "NetworkPhase",
    "OsInstallPhase",
    "PhaseDeps",
    "ProvisionPhase",
    "build_handlers",
]


def build_handlers(deps: PhaseDeps) -> dict[Phase, PhaseHandler]:
    """One handler per phase after billing."""
    return {
        Phase.ALLOCATION: AllocationPhase(deps),
        Phase.PROVISION: ProvisionPhase(deps),
        Phase.OS_INSTALL: OsInstallPhase(deps),
        Phase.NETWORK: NetworkPhase(deps),
        Phase.HANDOFF: HandoffPhase(deps),
    }
