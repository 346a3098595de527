"""The phases a worker executes (five after billing, lifecycle actions, switch-port jobs,
DCIM syncs) and their deps.

Each handler follows `engine.context.PhaseHandler`: `execute` talks to the outside world
(idempotently, by correlation key), `commit` writes inside the fenced completion transaction.
"""

from __future__ import annotations

from fluxbilling.engine.context import PhaseHandler
from fluxbilling.orders.phases.action import ActionPhase
from fluxbilling.orders.phases.allocation import AllocationPhase
from fluxbilling.orders.phases.dcim_sync import DcimSyncPhase
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.phases.handoff import HandoffPhase
from fluxbilling.orders.phases.network import NetworkPhase
from fluxbilling.orders.phases.os_install import OsInstallPhase
from fluxbilling.orders.phases.provision import ProvisionPhase
from fluxbilling.orders.phases.switch_port import Switching, SwitchPortPhase
from fluxbilling.orders.pipeline import Phase

__all__ = [
    "ActionPhase",
    "AllocationPhase",
    "DcimSyncPhase",
    "HandoffPhase",
    "NetworkPhase",
    "OsInstallPhase",
    "PhaseDeps",
    "ProvisionPhase",
    "SwitchPortPhase",
    "Switching",
    "build_handlers",
]


def build_handlers(deps: PhaseDeps) -> dict[str, PhaseHandler]:
    """One handler per phase after billing, and the lifecycle-action phase."""
    return {
        Phase.ALLOCATION: AllocationPhase(deps),
        Phase.PROVISION: ProvisionPhase(deps),
        Phase.OS_INSTALL: OsInstallPhase(deps),
        Phase.NETWORK: NetworkPhase(deps),
        Phase.HANDOFF: HandoffPhase(deps),
        Phase.ACTION: ActionPhase(deps),
        Phase.SWITCH_PORT: SwitchPortPhase(deps.switching),
        Phase.DCIM_SYNC: DcimSyncPhase(deps),
    }
