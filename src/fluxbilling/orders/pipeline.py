"""The pipeline table: the six phases in order, with each phase's retry policy.

```
billing ─► allocation ─► provision ─► os_install ─► network ─► handoff ─► (active)
```
A *lifecycle action* on a service (suspend, terminate, ...) is a run of kind `action` with one
phase, `action`, whose correlation key also names the run (an order has many actions). A
*switch-port job* is a run of kind `switch_port` with one phase, `switch_port`, keyed the
same way: the network phase and terminate enqueue it; it never blocks provisioning.
A *DCIM sync* (`dcim_sync`, one phase of the same name) pushes a service's placement to the
inventory system (NetBox); the network phase's commit enqueues it, so provisioning never waits
for, or fails with, the inventory system.

`PIPELINES` is what the composition root hands the engine (`engine.pipeline.Pipeline`
values): the engine runs them without knowing what an order is. Order and service states
are declared (with their one writer) in `orders.lifecycle`; run states (`RunState`) and
correlation keys (`correlation_key`) are the engine's, re-exported here for order code.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from fluxbilling.engine import pipeline as engine
from fluxbilling.engine.pipeline import PhaseSpec, RunState, correlation_key
from fluxbilling.engine.policy import RetryPolicy

__all__ = [
    "ACTIONS",
    "ACTION_KIND",
    "DCIM_SYNC",
    "DCIM_SYNC_KIND",
    "PHASES",
    "PIPELINES",
    "PROVISIONING",
    "PROVISION_KIND",
    "SWITCH_PORTS",
    "SWITCH_PORT_KIND",
    "Phase",
    "RunState",
    "correlation_key",
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
    SWITCH_PORT = "switch_port"
    DCIM_SYNC = "dcim_sync"


PROVISION_KIND = "provision"
ACTION_KIND = "action"
SWITCH_PORT_KIND = "switch_port"
DCIM_SYNC_KIND = "dcim_sync"

PROVISIONING = engine.Pipeline(
    PROVISION_KIND,
    (
        PhaseSpec(
            Phase.BILLING,
            RetryPolicy(),
            no_rerun="the billing phase cannot be re-run; the invoice is paid",
        ),
        PhaseSpec(
            Phase.ALLOCATION,
            RetryPolicy(max_attempts=10, deadline=timedelta(days=7)),
            no_rerun_once_done="the allocation phase holds the order's host capacity and "
            "address; re-running it would reserve them twice: re-allocate the order instead",
        ),
        PhaseSpec(Phase.PROVISION, RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30))),
        PhaseSpec(Phase.OS_INSTALL, RetryPolicy(max_attempts=10, deadline=timedelta(hours=2))),
        PhaseSpec(Phase.NETWORK, RetryPolicy(max_attempts=10, deadline=timedelta(minutes=30))),
        PhaseSpec(Phase.HANDOFF, RetryPolicy(max_attempts=20, deadline=timedelta(hours=6))),
    ),
)
"""The provisioning pipeline: each phase with its retry policy; billing is never re-run."""

ACTIONS = engine.Pipeline(
    ACTION_KIND,
    (PhaseSpec(Phase.ACTION, RetryPolicy(max_attempts=10, deadline=timedelta(hours=2))),),
    key_per_run=True,
)
"""A lifecycle action: one phase; its keys name the run (an order has many actions)."""

SWITCH_PORTS = engine.Pipeline(
    SWITCH_PORT_KIND,
    (PhaseSpec(Phase.SWITCH_PORT, RetryPolicy(max_attempts=10, deadline=timedelta(hours=1))),),
    key_per_run=True,
)
"""A switch-port job (`orders.phases.switch_port`): one phase; an order has several jobs."""


DCIM_SYNC = engine.Pipeline(
    DCIM_SYNC_KIND,
    (PhaseSpec(Phase.DCIM_SYNC, RetryPolicy(max_attempts=30, deadline=timedelta(days=2))),),
    key_per_run=True,
)
"""A DCIM sync: one phase, patient (an inventory system outage delays only the sync)."""

PIPELINES: tuple[engine.Pipeline, ...] = (PROVISIONING, ACTIONS, SWITCH_PORTS, DCIM_SYNC)
"""What the composition root hands the engine (provisioning first: the kind a run has
unless its enqueue names one)."""

PHASES: tuple[Phase, ...] = tuple(Phase(name) for name in PROVISIONING.names)
"""The provisioning pipeline's phases, in order."""
