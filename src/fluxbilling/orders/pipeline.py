"""The pipeline table: the six phases in order, with each phase's retry policy.

```
billing ─► allocation ─► provision ─► os_install ─► network ─► handoff ─► (active)
```
Order states: `awaiting_payment` → `provisioning_pending` (invoice paid, run enqueued) →
`provisioning` (a worker started) → `active`; or `failed` / `cancelled`.
Run states: `queued` (claimable at next_run_at) → `running` (leased) → `completed`;
`failed` (an operator may retry from a phase) and `cancelled` are terminal.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from fluxbilling.engine.policy import RetryPolicy

__all__ = [
    "PHASES",
    "POLICIES",
    "OrderState",
    "Phase",
    "RunState",
    "correlation_key",
    "next_phase",
]


class Phase(StrEnum):
    """A step of the provisioning pipeline."""

    BILLING = "billing"
    ALLOCATION = "allocation"
    PROVISION = "provision"
    OS_INSTALL = "os_install"
    NETWORK = "network"
    HANDOFF = "handoff"


class RunState(StrEnum):
    """Where a run is."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OrderState(StrEnum):
    """Where an order is."""

    AWAITING_PAYMENT = "awaiting_payment"
    PROVISIONING_PENDING = "provisioning_pending"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    FAILED = "failed"
    CANCELLED = "cancelled"


PHASES: tuple[Phase, ...] = tuple(Phase)

POLICIES: dict[Phase, RetryPolicy] = {
    Phase.BILLING: RetryPolicy(),
    Phase.ALLOCATION: RetryPolicy(max_attempts=10, deadline=timedelta(days=7)),
    Phase.PROVISION: RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30)),
    Phase.OS_INSTALL: RetryPolicy(max_attempts=10, deadline=timedelta(hours=2)),
    Phase.NETWORK: RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30)),
    Phase.HANDOFF: RetryPolicy(max_attempts=20, deadline=timedelta(hours=6)),
}


def next_phase(phase: Phase) -> Phase | None:
    """The phase after `phase`, or None after the last.

    Examples:
        >>> next_phase(Phase.BILLING)
        <Phase.ALLOCATION: 'allocation'>
        >>> next_phase(Phase.HANDOFF) is None
        True
    """
    index = PHASES.index(phase)
    return PHASES[index + 1] if index + 1 < len(PHASES) else None


def correlation_key(order_id: int, phase: Phase, node: str | None = None) -> str:
    """The stable key of one phase of one order: `<order id>:<phase>[:<node>]`.

    Example:
        >>> correlation_key(42, Phase.PROVISION)
        '42:provision'
    """
    key = f"{order_id}:{phase.value}"
    return f"{key}:{node}" if node else key
