"""The pipeline table: the six phases in order, with each phase's retry policy.

```
billing ─► allocation ─► provision ─► os_install ─► network ─► handoff ─► (active)
```
A *lifecycle action* on a service (suspend, terminate, ...) is a run of kind `action` with one
phase, `action`, whose correlation key also names the run (an order has many actions).

Order and service states are declared (with their one writer) in `orders.lifecycle`.
Run states: `queued` (claimable at next_run_at) → `running` (leased) → `completed`;
`failed` (an operator may retry from a phase) and `cancelled` are terminal.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from fluxbilling.engine.policy import RetryPolicy

__all__ = [
    "ACTION_KIND",
    "PHASES",
    "PIPELINES",
    "POLICIES",
    "PROVISION_KIND",
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
    ACTION = "action"


class RunState(StrEnum):
    """Where a run is."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


PROVISION_KIND = "provision"
ACTION_KIND = "action"

PHASES: tuple[Phase, ...] = (
    Phase.BILLING,
    Phase.ALLOCATION,
    Phase.PROVISION,
    Phase.OS_INSTALL,
    Phase.NETWORK,
    Phase.HANDOFF,
)
"""The provisioning pipeline, in order."""

PIPELINES: dict[str, tuple[Phase, ...]] = {PROVISION_KIND: PHASES, ACTION_KIND: (Phase.ACTION,)}
"""The phases each kind of run goes through."""

POLICIES: dict[Phase, RetryPolicy] = {
    Phase.BILLING: RetryPolicy(),
    Phase.ALLOCATION: RetryPolicy(max_attempts=10, deadline=timedelta(days=7)),
    Phase.PROVISION: RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30)),
    Phase.OS_INSTALL: RetryPolicy(max_attempts=10, deadline=timedelta(hours=2)),
    Phase.NETWORK: RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30)),
    Phase.HANDOFF: RetryPolicy(max_attempts=20, deadline=timedelta(hours=6)),
    Phase.ACTION: RetryPolicy(max_attempts=10, deadline=timedelta(hours=2)),
}


def next_phase(phase: Phase, kind: str = PROVISION_KIND) -> Phase | None:
    """The phase after `phase` in a run of `kind`, or None after the last.

    Examples:
        >>> next_phase(Phase.BILLING)
        <Phase.ALLOCATION: 'allocation'>
        >>> next_phase(Phase.HANDOFF) is None
        True
        >>> next_phase(Phase.ACTION, ACTION_KIND) is None
        True
    """
    phases = PIPELINES[kind]
    index = phases.index(phase)
    return phases[index + 1] if index + 1 < len(phases) else None


def correlation_key(
    order_id: int, phase: Phase, node: str | None = None, *, run_id: int | None = None
) -> str:
    """The stable key of one phase of one order: `<order id>:<phase>[:<node>]`.

    An action run's key also names the run (`<order id>:action:<run id>`), because an
    order has one provisioning run but many actions.

    Examples:
        >>> correlation_key(42, Phase.PROVISION)
        '42:provision'
        >>> correlation_key(42, Phase.ACTION, run_id=7)
        '42:action:7'
    """
    key = f"{order_id}:{phase.value}"
    if run_id is not None:
        key = f"{key}:{run_id}"
    return f"{key}:{node}" if node else key
