"""Switch ports: the `SwitchPortBackend` port and the pure decisions of the switch-port job.

The model. A host's edge port (`hosts.switch_port`, the port of the switch it hangs off) is
moved by a job of its own kind (a `switch_port` run, `orders.phases.switch_port`), never by
the provisioning run itself. Which move, by the kind of machine:

| service type  | the host's edge port       | provision (its pool's VLAN) | terminate                 |
|---------------|----------------------------|-----------------------------|---------------------------|
| `baremetal`   | the machine's own (access) | `access` VLAN               | `access` quarantine VLAN  |
| any other     | a trunk for every service  | `trunk_add` VLAN            | `trunk_remove` VLAN (+)  |

(+) unless another live service on the host uses that VLAN: checked when the job runs.

A trunk's `trunks` set holds exactly the VLANs its host's services use. Open vSwitch reads an
*empty* `trunks` set as "every VLAN", so removing the last VLAN leaves the quarantine VLAN in
its place (a VLAN nothing else is on), never an empty set. Each step reads the port, decides
the new row (`plan`), writes it only when it differs (so a retried job writes nothing twice),
and reads the port back: the job is done only when `satisfied` holds for what it read.

Vendor switch backends implement the same port later; Open vSwitch over OVSDB is the
reference one (`network.ovsdb`); `fluxbilling.testing.InMemorySwitchPorts` is its fake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from fluxbilling import errors

__all__ = [
    "MAX_VLAN",
    "MIN_VLAN",
    "Change",
    "PortVlans",
    "SwitchJobSpec",
    "SwitchOp",
    "SwitchPortBackend",
    "dedupe_key",
    "plan",
    "provision_job",
    "satisfied",
    "terminate_job",
    "valid_vlan",
]

MIN_VLAN = 1
MAX_VLAN = 4094
"""802.1Q VLAN ids usable for traffic (0 and 4095 are reserved)."""

_ACCESS_TYPES = frozenset({"baremetal"})
"""Service types whose host is the machine itself: its edge port is an access port."""


class SwitchOp(StrEnum):
    """What a switch-port job does to its port."""

    ACCESS = "access"
    """Make the port an access port on the VLAN (`tag`)."""
    TRUNK_ADD = "trunk_add"
    """Add the VLAN to the port's `trunks`."""
    TRUNK_REMOVE = "trunk_remove"
    """Take the VLAN out of the port's `trunks` (never leaving it empty)."""


@dataclass(frozen=True, slots=True)
class PortVlans:
    """A port's VLAN configuration as the switch reports it.

    Attributes:
        name: the port.
        tag: its access (or native) VLAN; None when it has none.
        trunks: the VLANs it trunks (empty: every VLAN, on Open vSwitch).
        mode: its VLAN mode (`access`, `trunk`, ...) when set explicitly.
    """

    name: str
    tag: int | None = None
    trunks: frozenset[int] = frozenset()
    mode: str | None = None

    @property
    def effective_mode(self) -> str:
        """The mode the switch applies: the explicit one, else `access` with a tag, else `trunk`."""
        return self.mode or ("access" if self.tag is not None else "trunk")

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (trunks sorted)."""
        return {
            "port": self.name,
            "tag": self.tag,
            "trunks": sorted(self.trunks),
            "mode": self.mode,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """The port's new VLAN configuration: an access VLAN, or a new trunks set."""

    tag: int | None = None
    trunks: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class SwitchJobSpec:
    """A switch-port job to enqueue: which port, which VLAN, what to do."""

    port: str
    vlan: int
    op: SwitchOp


@runtime_checkable
class SwitchPortBackend(Protocol):
    """Reads and sets the VLANs of switch ports."""

    async def get_port(self, port: str) -> PortVlans:
        """The VLAN configuration of `port`.

        Args:
            port: the port's name on the switch.

        Raises:
            errors.PermanentUpstreamError: the switch has no such port (named in the message).
            errors.TransientUpstreamError: the switch could not be reached or answered late.
        """
        ...

    async def set_access_vlan(self, port: str, vlan: int) -> None:
        """Make `port` an access port on `vlan` (idempotent).

        Args:
            port: the port's name on the switch.
            vlan: 1-4094.

        Raises:
            errors.PermanentUpstreamError: no such port, or the switch refused the value.
            errors.TransientUpstreamError: the switch could not be reached or answered late.
        """
        ...

    async def set_trunks(
        self, port: str, trunks: frozenset[int], *, expected: frozenset[int]
    ) -> None:
        """Set the VLANs `port` trunks, provided they are still `expected` (compare and set).

        Args:
            port: the port's name on the switch.
            trunks: the new set (never empty: see the module docstring).
            expected: the set read before deciding; another writer changed it meanwhile
                when it differs, and nothing is written.

        Raises:
            errors.TransientUpstreamError: the set is no longer `expected` (read and decide
                again), or the switch could not be reached.
            errors.PermanentUpstreamError: no such port, or the switch refused the value.
        """
        ...


def valid_vlan(vlan: int) -> bool:
    """Whether `vlan` is a usable 802.1Q VLAN id.

    Example:
        >>> valid_vlan(100), valid_vlan(0), valid_vlan(4095)
        (True, False, False)
    """
    return MIN_VLAN <= vlan <= MAX_VLAN


def provision_job(*, port: str | None, vlan: int | None, service_type: str) -> SwitchJobSpec | None:
    """The job that puts a new service's host port on its VLAN (None: nothing to move).

    Example:
        >>> provision_job(port="p1", vlan=100, service_type="vps")
        SwitchJobSpec(port='p1', vlan=100, op=<SwitchOp.TRUNK_ADD: 'trunk_add'>)
        >>> provision_job(port=None, vlan=100, service_type="vps") is None
        True
    """
    if not port or vlan is None:
        return None
    op = SwitchOp.ACCESS if service_type in _ACCESS_TYPES else SwitchOp.TRUNK_ADD
    return SwitchJobSpec(port, vlan, op)


def terminate_job(
    *, port: str | None, vlan: int | None, service_type: str, quarantine_vlan: int
) -> SwitchJobSpec | None:
    """The job that takes a terminated service's VLAN off its host port (None: nothing).

    A bare-metal machine's port goes to the quarantine VLAN (the machine may still be
    running what the customer left on it); a trunk loses the VLAN unless another service on
    the host uses it, which the job checks when it runs (`SwitchOp.TRUNK_REMOVE`).

    Example:
        >>> terminate_job(port="p1", vlan=100, service_type="baremetal", quarantine_vlan=4094)
        SwitchJobSpec(port='p1', vlan=4094, op=<SwitchOp.ACCESS: 'access'>)
    """
    if not port or vlan is None:
        return None
    if service_type in _ACCESS_TYPES:
        return SwitchJobSpec(port, quarantine_vlan, SwitchOp.ACCESS)
    return SwitchJobSpec(port, vlan, SwitchOp.TRUNK_REMOVE)


def dedupe_key(order_id: int, job: SwitchJobSpec) -> str:
    """The job's run dedupe key: one job per order, port, VLAN and operation.

    Example:
        >>> dedupe_key(7, SwitchJobSpec("p1", 100, SwitchOp.TRUNK_ADD))
        '7:switch_port:p1:100:trunk_add'
    """
    return f"{order_id}:switch_port:{job.port}:{job.vlan}:{job.op}"


def _trunks(
    current: Iterable[int], add: int | None, remove: int | None, quarantine: int
) -> frozenset[int]:
    wanted = set(current)
    if add is not None:
        wanted.discard(quarantine)
        wanted.add(add)
    if remove is not None:
        wanted.discard(remove)
    return frozenset(wanted or {quarantine})


def plan(op: SwitchOp, vlan: int, current: PortVlans, *, quarantine_vlan: int) -> Change | None:
    """The port's new configuration for the job, or None when it is there already.

    Raises:
        errors.PermanentUpstreamError: a trunk job on a port the switch treats as an access
            port (its `trunks` would be ignored): the host's edge port is misconfigured.

    Example:
        >>> plan(SwitchOp.TRUNK_ADD, 200, PortVlans("p", trunks=frozenset({100})), quarantine_vlan=4094)
        Change(tag=None, trunks=frozenset({200, 100}))
        >>> plan(SwitchOp.TRUNK_REMOVE, 100, PortVlans("p", trunks=frozenset({100})), quarantine_vlan=4094)
        Change(tag=None, trunks=frozenset({4094}))
        >>> plan(SwitchOp.ACCESS, 100, PortVlans("p", tag=100, mode="access"), quarantine_vlan=4094) is None
        True
    """
    if satisfied(op, vlan, current, quarantine_vlan=quarantine_vlan):
        return None
    if op == SwitchOp.ACCESS:
        return Change(tag=vlan)
    if current.effective_mode == "access":
        raise errors.PermanentUpstreamError(
            f"port {current.name} is an access port (VLAN {current.tag}): a host carrying "
            f"several services needs a trunk port to {op.replace('_', ' ')} VLAN {vlan}",
            upstream="switch",
            operation=f"{op} VLAN {vlan}",
            port=current.name,
        )
    add = vlan if op == SwitchOp.TRUNK_ADD else None
    remove = vlan if op == SwitchOp.TRUNK_REMOVE else None
    return Change(trunks=_trunks(current.trunks, add, remove, quarantine_vlan))


def satisfied(op: SwitchOp, vlan: int, state: PortVlans, *, quarantine_vlan: int) -> bool:
    """Whether the port as read back is where the job wants it.

    Example:
        >>> satisfied(SwitchOp.TRUNK_REMOVE, 100, PortVlans("p", trunks=frozenset({4094})),
        ...           quarantine_vlan=4094)
        True
        >>> satisfied(SwitchOp.TRUNK_ADD, 100, PortVlans("p"), quarantine_vlan=4094)
        False
    """
    if op == SwitchOp.ACCESS:
        return state.tag == vlan and state.effective_mode == "access"
    if op == SwitchOp.TRUNK_ADD:
        return vlan in state.trunks and (
            vlan == quarantine_vlan or quarantine_vlan not in state.trunks
        )
    return vlan not in state.trunks and bool(state.trunks)
