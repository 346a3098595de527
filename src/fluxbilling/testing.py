"""Public fakes for unit tests of the phases: no database, no simulator, no network.

- `FakeDriver`: a scripted `Driver`; it answers each verb with the outcomes queued for it
  and keeps every `Operation` it received (`calls`).
- `InMemoryPhaseStore`: the phases' port to the database (`orders.phases.store`), over
  `OrderView`s held in memory; it keeps the activity rows, transitions, cursors and mails.
- `InMemoryRdns`, `FakeImageVerifier`: the other ports of the phases.
- `InMemoryDcim`: an inventory system (`network.dcim_sync.DcimSync`) that keeps its objects;
  `edit` changes one as a person editing NetBox would, `fail_with` makes calls fail;
  `InMemoryDcimRecords` our side of it (facts per service, what was pushed, the drift).
- `phase_context`: a `PhaseContext` whose database and connection refuse every use, so
  a phase that still reaches for SQL fails its unit test loudly.

```python
driver = FakeDriver("acme")
driver.script("provision", Pending({"task": 7}), Done({"service_data": {"external_id": 9}}))
registry = DriverRegistry()
registry.register(driver)
```
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.allocation.reservation import Release, Reservation
from fluxbilling.db import Database
from fluxbilling.drivers.driver import CAPABILITY_VERBS, Operation, OsInstall
from fluxbilling.drivers.outcome import Done, VerbOutcome
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import Claim
from fluxbilling.handoff import reveal
from fluxbilling.network import fcrdns, ipam
from fluxbilling.network.dcim_drift import Drift, Kind, Value
from fluxbilling.network.dcim_sync import Facts, Pushed, RemoteObject, SyncResult, Wanted
from fluxbilling.network.switchport import PortVlans, valid_vlan
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases.deps import plain
from fluxbilling.orders.phases.store import ActionRow, PhaseWrites, ProvisionFailure, WelcomeMail
from fluxbilling.orders.pipeline import PIPELINES, PROVISION_KIND, Phase
from fluxbilling.orders.switch_jobs import SwitchJobRow
from fluxbilling.orders.view import OrderView

__all__ = [
    "NO_CONNECTION",
    "Activity",
    "FakeDriver",
    "FakeImageVerifier",
    "InMemoryDcim",
    "InMemoryDcimRecords",
    "InMemoryPhaseStore",
    "InMemoryRdns",
    "InMemorySwitchJobs",
    "InMemorySwitchPorts",
    "phase_context",
]


class _Offline:
    """Stands in for a database or a connection a unit test must not use."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise errors.InvariantViolation(
            f"a unit test used the {self._what} ({name}): go through a port instead"
        )


NO_CONNECTION = cast("AsyncConnection", _Offline("database connection"))
"""The `conn` a unit test hands `PhaseHandler.commit`: any use of it fails."""


def phase_context(
    order_id: int,
    phase: Phase,
    *,
    cursor: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    run_id: int = 1,
    kind: str = PROVISION_KIND,
    attempt: int = 1,
) -> PhaseContext:
    """An attempt of `phase` for `order_id`, on a database that refuses every use."""
    now = now or datetime(2026, 1, 1, tzinfo=UTC)
    (pipeline,) = (p for p in PIPELINES if p.kind == kind)
    claim = Claim(
        run_id=run_id,
        order_id=order_id,
        kind=kind,
        phase=phase,
        attempt=attempt,
        lease_token=1,
        phase_started_at=now,
        worker="unit-test",
        correlation_key=pipeline.key(order_id, phase, run_id),
    )
    return PhaseContext(claim, cast("Database", _Offline("database")), cursor, now)


class FakeDriver:
    """A `Driver` that answers from a script and keeps what it was asked.

    Attributes:
        calls: every operation `run` received, in order.
        validated: the `(settings, product)` pairs `validate` checked.
        settings_error: raised by `validate` when set.
    """

    def __init__(
        self,
        slug: str = "fake",
        version: int = 1,
        *,
        capabilities: Iterable[str] = CAPABILITY_VERBS,
        os_install: OsInstall = "reinstall",
        connection_type: str | None = None,
    ) -> None:
        self.slug = slug
        self.version = version
        self.capabilities = frozenset(capabilities)
        self.verbs = frozenset(v for c in self.capabilities for v in CAPABILITY_VERBS[c])
        self.os_install: OsInstall = os_install
        self.connection_type = connection_type
        self.calls: list[Operation] = []
        self.validated: list[tuple[Mapping[str, Any], str]] = []
        self.settings_error: errors.InvalidSettings | None = None
        self._script: dict[str, deque[VerbOutcome]] = defaultdict(deque)

    def script(self, verb: str, *outcomes: VerbOutcome) -> FakeDriver:
        """Queue what the next calls of `verb` answer (then `Done()` with no output)."""
        self._script[verb].extend(outcomes)
        return self

    def verbs_called(self) -> list[str]:
        """The verbs of `calls`, in order."""
        return [str(op.verb) for op in self.calls]

    def validate(self, settings: Mapping[str, Any], product: str) -> None:
        """Record the check; raise `settings_error` when one is set."""
        self.validated.append((dict(settings), product))
        if self.settings_error is not None:
            raise self.settings_error

    async def run(self, operation: Operation) -> VerbOutcome:
        """Record the operation and answer with the next scripted outcome."""
        self.calls.append(operation)
        queued = self._script[operation.verb]
        return queued.popleft() if queued else Done()


@dataclass
class InMemoryRdns:
    """An `RdnsBackend` that keeps the PTR and A/AAAA records it was asked to publish and
    "serves" them to `confirm` like an authoritative server would.

    Attributes:
        records: address -> PTR target (as published).
        forward: (host name, `A`/`AAAA`) -> address (as published).
        failures: errors raised, in order, by the next calls that write or delete.
        lag: how many `confirm` calls still answer from before the last publication (a
            server that has not loaded the change yet).
        served: what the server answers instead of the records: address -> PTR target
            and (host name, type) -> address entries that override them (a server
            answering something else); checked by `confirm`.
        confirms: every `(address, hostname)` `confirm` was asked.
    """

    records: dict[str, str] = field(default_factory=dict)
    forward: dict[tuple[str, str], str] = field(default_factory=dict)
    failures: list[errors.FluxError] = field(default_factory=list)
    lag: int = 0
    served: dict[Any, str] = field(default_factory=dict)
    confirms: list[tuple[str, str]] = field(default_factory=list)
    server: str = "in-memory:53"

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Keep `address -> hostname`; the zone is the address's /24 (IPv4) or /64 (IPv6)."""
        self._fail()
        parsed = ipaddress.ip_address(address)
        network = ipaddress.ip_network(f"{parsed}/{24 if parsed.version == 4 else 64}", False)
        zone = ipam.reverse_zone_for(network).rstrip(".")
        self.records[str(parsed)] = hostname
        return zone, ipam.ptr_name(parsed).rstrip(".")

    async def delete_ptr(self, address: str) -> None:
        """Forget the PTR of `address` (nothing kept is not an error)."""
        self._fail()
        self.records.pop(address, None)

    async def set_forward(self, hostname: str, address: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Keep `(hostname, A|AAAA) -> address`; the zone is the host's parent domain."""
        self._fail()
        rtype = "AAAA" if ":" in address else "A"
        self.forward[(hostname.rstrip(".").lower(), rtype)] = address
        return hostname.rstrip(".").partition(".")[2] + ".", hostname.rstrip(".") + "."

    async def delete_forward(self, hostname: str, address: str) -> None:
        """Forget the host's record if it holds `address`."""
        self._fail()
        key = (hostname.rstrip(".").lower(), "AAAA" if ":" in address else "A")
        if self.forward.get(key) == address:
            del self.forward[key]

    async def confirm(self, address: str, hostname: str) -> fcrdns.Verdict:
        """Judge (`fcrdns.decide`) what this fake serves: nothing while `lag` lasts."""
        self.confirms.append((address, hostname))
        if self.lag > 0:
            self.lag -= 1
            empty = fcrdns.Answer("NXDOMAIN")
            verdict = fcrdns.decide(address, hostname, empty, empty)
            return dataclasses.replace(verdict, server=self.server)
        ip = ipaddress.ip_address(address)
        ptr_owner = ip.reverse_pointer + "."
        target = self.served.get(address, self.records.get(address))
        reverse = fcrdns.Answer(
            "NOERROR" if target else "NXDOMAIN",
            (fcrdns.Record(ptr_owner, "PTR", target.rstrip(".") + "."),) if target else (),
        )
        rtype = "A" if ip.version == 4 else "AAAA"
        host = hostname.rstrip(".").lower()
        held = self.served.get((host, rtype), self.forward.get((host, rtype)))
        forward = fcrdns.Answer(
            "NOERROR" if held else "NXDOMAIN",
            (fcrdns.Record(host + ".", rtype, held),) if held else (),
        )
        verdict = fcrdns.decide(address, hostname, reverse, forward)
        return dataclasses.replace(verdict, server=self.server)


@dataclass
class FakeImageVerifier:
    """An `ImageVerifier`: every image matches unless its URL is in `failing`."""

    failing: dict[str, errors.UpstreamError] = field(default_factory=dict)
    checked: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, url: str, expected: str) -> None:
        """Record the check; raise the error kept for `url`."""
        self.checked.append((url, expected))
        if url in self.failing:
            raise self.failing[url]


@dataclass(frozen=True, slots=True)
class Activity:
    """An activity row the in-memory store was asked to write."""

    order_id: int
    event: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


class InMemoryPhaseStore:
    """`orders.phases.store.PhaseStore` over `OrderView`s kept in memory.

    Every read answers a copy (as a database would); every write changes the kept views
    and is observable in the attributes below. Transitions follow `orders.lifecycle`'s
    tables, so an illegal one raises as it would in the database.

    Attributes:
        views: the orders, by id.
        actions: the action of each action run, by run id.
        reservation: what `reserve` answers; `None` raises `CapacityExhausted`.
        holds: the checkout holds still held, by order id (`adopt_hold` consumes them).
        activity: the activity rows written.
        cursors: the cursors saved by `save_cursor`, in order.
        quarantined: the ids of quarantined images.
        outbox: the welcome mails queued, by message id, and `mail_status` their status.
        action_results: the result stored on each action, by action id.
        reveal_links: the password reveal links issued, oldest first (`service_id`,
            `token_hash`, `hours`, `revoked`).
        released: the orders whose capacity was given back.
        interfaces: the DCIM interface and address kept per service id.
        follow_ups: the runs enqueued by commits, by dedupe key (order id, kind, phase).
        provision_failures: each failed provision attempt counted (order id, error,
            whether re-allocation was asked); the fake never quarantines nor moves.
        hosts_succeeded: the hosts a provision succeeded on, in order.
        next_service_id: the id `create_service` gives the next service.
    """

    def __init__(self, *views: OrderView) -> None:
        self.views: dict[int, OrderView] = {view.order_id: view for view in views}
        self.actions: dict[int, ActionRow] = {}
        self.reservation: Reservation | None = None
        self.holds: dict[int, Reservation] = {}
        self.activity: list[Activity] = []
        self.cursors: list[Mapping[str, Any]] = []
        self.quarantined: set[int] = set()
        self.outbox: dict[str, WelcomeMail] = {}
        self.mail_status: dict[str, str] = {}
        self.action_results: dict[int, Any] = {}
        self.reveal_links: list[dict[str, Any]] = []
        self.released: list[int] = []
        self.provision_failures: list[tuple[int, str, bool]] = []
        self.hosts_succeeded: list[int] = []
        self.next_service_id = 1
        self.interfaces: dict[int, dict[str, Any]] = {}
        self.follow_ups: dict[str, tuple[int, str, str]] = {}

    def events(self, order_id: int) -> list[str]:
        """The activity events written for an order, in order."""
        return [row.event for row in self.activity if row.order_id == order_id]

    def service(self, service_id: int) -> dict[str, Any]:
        """The kept row of a service.

        Raises:
            errors.NotFound: no view holds it.
        """
        for view in self.views.values():
            if view.service.get("id") == service_id:
                return view.service
        raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)

    def _order_of(self, service_id: int) -> int:
        return int(self.service(service_id)["order_id"])

    async def view(self, order_id: int) -> OrderView:
        """A copy of the kept view."""
        if order_id not in self.views:
            raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)
        return copy.deepcopy(self.views[order_id])

    async def pin_driver(self, claim: Claim, service_id: int, slug: str, version: int) -> int:
        """Pin unless pinned; the version pinned now."""
        service = self.service(service_id)
        if service.get("plugin_version") is None:
            service.update(plugin_slug=slug, plugin_version=version)
        return int(service["plugin_version"])

    async def seal_password(self, ctx: PhaseContext, service_id: int, sealed: str) -> str:
        """Keep `sealed` unless the service has a password; the one it has now."""
        service = self.service(service_id)
        if not service.get("root_password_sealed"):
            service["root_password_sealed"] = sealed
        self.activity.append(
            Activity(ctx.order_id, "credentials_sealed", "password generated and sealed")
        )
        return str(service["root_password_sealed"])

    async def save_cursor(self, claim: Claim, cursor: Mapping[str, Any]) -> None:
        """Keep the cursor."""
        self.cursors.append(copy.deepcopy(dict(cursor)))

    async def quarantine_image(self, image_id: int) -> None:
        """Mark the image quarantined (in every view that shows it)."""
        self.quarantined.add(image_id)
        for view in self.views.values():
            if view.image.get("id") == image_id:
                view.image["status"] = "quarantined"

    async def action(self, run_id: int) -> ActionRow:
        """The action of an action run."""
        if run_id not in self.actions:
            raise errors.InvariantViolation(f"action run {run_id} has no service_actions row")
        return self.actions[run_id]

    async def queue_mail(self, claim: Claim, mail: WelcomeMail) -> str:
        """Queue the mail unless an earlier attempt did; its status."""
        self.outbox.setdefault(mail.message_id, mail)
        return self.mail_status.setdefault(mail.message_id, "queued")

    async def mail_sent(self, message_id: str) -> None:
        """Mark the mail sent."""
        self.mail_status[message_id] = "sent"

    async def issue_reveal_link(
        self, ctx: PhaseContext, service_id: int, token: str, *, hours: int
    ) -> None:
        """Keep the link's hash and lifetime; the service's earlier links are revoked."""
        self.revoke_links(service_id)
        self.reveal_links.append(
            {
                "service_id": service_id,
                "token_hash": reveal.token_hash(token),
                "hours": hours,
                "revoked": False,
            }
        )
        self.activity.append(Activity(ctx.order_id, "reveal_link_issued", "link issued"))

    def revoke_links(self, service_id: int) -> int:
        """Revoke the service's outstanding links; how many there were."""
        outstanding = [
            link
            for link in self.reveal_links
            if link["service_id"] == service_id and not link["revoked"]
        ]
        for link in outstanding:
            link["revoked"] = True
        return len(outstanding)

    async def provision_failed(
        self, ctx: PhaseContext, error: str, *, quarantine_after: int, reallocate: bool
    ) -> ProvisionFailure:
        """Count the failure; the order stays where it is."""
        self.provision_failures.append((ctx.order_id, error, reallocate))
        host = self.views[ctx.order_id].host.get("name")
        return ProvisionFailure(None if host is None else str(host))

    def writes(self, conn: AsyncConnection, ctx: PhaseContext) -> PhaseWrites:
        """Writes applied to the kept views at once (`conn` is not used)."""
        return _InMemoryWrites(self, ctx)


class _InMemoryWrites:
    """`PhaseWrites` applied straight to an `InMemoryPhaseStore`."""

    def __init__(self, store: InMemoryPhaseStore, ctx: PhaseContext) -> None:
        self.store = store
        self.ctx = ctx

    async def record(self, event: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.store.activity.append(Activity(self.ctx.order_id, event, message, dict(data or {})))

    async def view(self, order_id: int) -> OrderView:
        return await self.store.view(order_id)

    async def reserve(
        self, order_id: int, product: Mapping[str, Any], *, with_address: bool
    ) -> Reservation:
        reserved = self.store.reservation
        if reserved is None:
            raise errors.CapacityExhausted(f"no host fits order {order_id}", order_id=order_id)
        if not with_address:
            reserved = Reservation(reserved.host_id, reserved.host_name, None, None)
        if reserved.address is not None:
            view = self.store.views[order_id]
            view.address.update(address=reserved.address, state="leased", order_id=order_id)
        return reserved

    async def adopt_hold(self, order_id: int) -> Reservation | None:
        held = self.store.holds.pop(order_id, None)
        if held is not None and held.address is not None:
            view = self.store.views[order_id]
            view.address.update(address=held.address, state="leased", order_id=order_id)
        return held

    async def create_service(
        self, order_id: int, host_id: int, *, storage_pool_id: int | None = None
    ) -> int:
        service_id = self.store.next_service_id
        self.store.next_service_id += 1
        view = self.store.views[order_id]
        status = lifecycle.SERVICES.initial.value
        view.service.update(
            id=service_id, order_id=order_id, status=status, host_id=host_id, service_data={}
        )
        if view.address:
            view.address["service_id"] = service_id
        return service_id

    async def host_succeeded(self, host_id: int) -> None:
        self.store.hosts_succeeded.append(host_id)

    async def release(self, order_id: int) -> Release:
        view = self.store.views[order_id]
        self.store.released.append(order_id)
        address = view.address.get("address")
        view.address.clear()
        view.leases.clear()
        product = view.product
        return Release(
            view.host.get("name"), product["ram_mb"], product["vcpus"], product["disk_gb"], address
        )

    async def assign_address(self, order_id: int, service_id: int) -> None:
        self.store.views[order_id].address.update(service_id=service_id, assigned_at="now")

    async def set_lease_ptrs(self, ptrs: Sequence[Mapping[str, Any]]) -> None:
        for view in self.store.views.values():
            for lease in view.leases:
                for ptr in ptrs:
                    if lease.get("id") == ptr["lease_id"]:
                        lease.update(
                            ptr_zone=ptr["zone"], ptr_name=ptr["name"], ptr_content=ptr["content"]
                        )

    async def merge_service_data(
        self, service_id: int, patch: Mapping[str, Any], **columns: str | None
    ) -> None:
        if "status" in columns:
            raise errors.InvariantViolation("services.status is written by orders.lifecycle only")
        service = self.store.service(service_id)
        service["service_data"] = {**(service.get("service_data") or {}), **plain(dict(patch))}
        service.update(columns)

    async def transition(
        self,
        event: str,
        message: str,
        *moves: lifecycle.Move,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        if len({m.machine.name for m in moves}) != len(moves):
            raise errors.InvariantViolation("one event moves each machine once", kind=event)
        decided = [(move, *self._decide(move)) for move in moves]
        for move, row, target in decided:  # all decided first: a refused move writes nothing
            row[move.machine.column] = target.value
        moved = {move.machine.name: move.recorded(target) for move, _, target in decided}
        self.store.activity.append(
            Activity(self.ctx.order_id, event, message, {**(data or {}), **moved})
        )

    def _decide(self, move: lifecycle.Move) -> tuple[dict[str, Any], StrEnum]:
        """The kept row `move` changes and the state it leads to (the lifecycle's tables)."""
        machine = move.machine
        if machine is lifecycle.ORDERS:
            if move.row_id not in self.store.views:
                raise errors.NotFound(f"order {move.row_id} does not exist", order_id=move.row_id)
            row, owner = self.store.views[move.row_id].order, move.row_id
        else:
            row, owner = self.store.service(move.row_id), self.store._order_of(move.row_id)
        if owner != self.ctx.order_id:
            raise errors.InvariantViolation(
                f"{machine.name} {move.row_id} belongs to order {owner}, "
                f"not to order {self.ctx.order_id}"
            )
        state = type(machine.initial)(row[machine.column])
        return row, lifecycle.next_state(machine.table, state, move.event)

    async def action(self, action_id: int) -> ActionRow:
        for row in self.store.actions.values():
            if row.id == action_id:
                return row
        raise errors.NotFound(f"action {action_id} does not exist", action_id=action_id)

    async def service_data(self, service_id: int) -> Mapping[str, Any]:
        return copy.deepcopy(dict(self.store.service(service_id).get("service_data") or {}))

    async def store_action_result(self, action_id: int, result: Any) -> None:
        self.store.action_results[action_id] = result

    async def revoke_reveal_links(self, service_id: int) -> int:
        return self.store.revoke_links(service_id)

    async def assign_interface(
        self, service_id: int, host_id: int | None, interface: str, address: str, dns_name: str
    ) -> None:
        self.store.interfaces[service_id] = {
            "host_id": host_id,
            "interface": interface,
            "address": address,
            "dns_name": dns_name,
        }

    async def enqueue_follow_up(self, kind: str, phase: str, dedupe_key: str) -> bool:
        if dedupe_key in self.store.follow_ups:
            return False
        self.store.follow_ups[dedupe_key] = (self.ctx.order_id, kind, phase)
        return True


class InMemorySwitchPorts:
    """A `network.switchport.SwitchPortBackend` over a dict of ports, with fault injection.

    Attributes:
        ports: the switch's ports by name (a test adds them; an unknown one is permanent).
        failures: errors raised by the next calls, one per call, first in first out.
        writes: how many writes changed a port (a retried job that writes twice shows here).
    """

    def __init__(self, *names: str) -> None:
        self.ports: dict[str, PortVlans] = {name: PortVlans(name) for name in names}
        self.failures: deque[errors.FluxError] = deque()
        self.writes = 0

    def _port(self, port: str) -> PortVlans:
        if self.failures:
            raise self.failures.popleft()
        found = self.ports.get(port)
        if found is None:
            raise errors.PermanentUpstreamError(
                f"switch: the switch has no port named {port!r}", upstream="switch", port=port
            )
        return found

    async def get_port(self, port: str) -> PortVlans:
        """The port's VLANs."""
        return self._port(port)

    async def set_access_vlan(self, port: str, vlan: int) -> None:
        """Make the port an access port on `vlan`."""
        current = self._port(port)
        if not valid_vlan(vlan):
            raise errors.PermanentUpstreamError(f"switch: VLAN {vlan} is not in 1-4094")
        self.ports[port] = PortVlans(port, vlan, current.trunks, "access")
        self.writes += 1

    async def set_trunks(
        self, port: str, trunks: frozenset[int], *, expected: frozenset[int]
    ) -> None:
        """Set the port's trunks when they are still `expected`."""
        current = self._port(port)
        if current.trunks != expected:
            raise errors.TransientUpstreamError("switch: the port's VLANs changed meanwhile")
        self.ports[port] = PortVlans(port, current.tag, frozenset(trunks), current.mode)
        self.writes += 1


class InMemorySwitchJobs:
    """A `orders.phases.switch_port.SwitchJobStore` over dicts: jobs by run id, the services on
    each VLAN, what each job finished with, and the services the commits asked jobs for."""

    def __init__(self, *jobs: SwitchJobRow, quarantine_vlan: int = 4094) -> None:
        self.jobs = {job.run_id: job for job in jobs}
        self.users: dict[int, list[int]] = {}
        """Other live services by VLAN."""
        self.finished: dict[int, Mapping[str, Any]] = {}
        self.requested: list[tuple[str, int]] = []
        """`("provisioned" | "terminated", service id)`, in order."""
        self._quarantine_vlan = quarantine_vlan

    @property
    def quarantine_vlan(self) -> int:
        """The quarantine VLAN."""
        return self._quarantine_vlan

    async def provisioned(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Record the request."""
        self.requested.append(("provisioned", service_id))

    async def terminated(self, conn: AsyncConnection, ctx: PhaseContext, service_id: int) -> None:
        """Record the request."""
        self.requested.append(("terminated", service_id))

    async def job(self, run_id: int) -> SwitchJobRow:
        """The job of `run_id`."""
        found = self.jobs.get(run_id)
        if found is None:
            raise errors.InvariantViolation(f"switch-port run {run_id} has no job")
        return found

    async def vlan_users(self, job: SwitchJobRow) -> list[int]:
        """The services the test put on the job's VLAN."""
        return list(self.users.get(job.vlan, []))

    async def finish(self, conn: AsyncConnection, run_id: int, result: Mapping[str, Any]) -> None:
        """Keep the result."""
        self.finished[run_id] = dict(result)


class InMemoryDcim:
    """`network.dcim_sync.DcimSync` over objects kept in memory (an inventory system).

    Attributes:
        objects: per kind, the objects by id: their `lookup`, `values` and `refs`.
        calls: every call, as `(verb, kind)`.
    """

    def __init__(self) -> None:
        self.objects: dict[Kind, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.calls: list[tuple[str, Kind]] = []
        self._next_id = 1
        self._failure: errors.UpstreamError | None = None

    def fail_with(self, error: errors.UpstreamError | None) -> None:
        """Make every later call raise `error` (None: answer again)."""
        self._failure = error

    def _call(self, verb: str, kind: Kind) -> None:
        self.calls.append((verb, kind))
        if self._failure is not None:
            raise self._failure

    def find_by(self, kind: Kind, **lookup: Value) -> dict[str, Any] | None:
        """The kept object of `kind` whose lookup fields match (for assertions)."""
        for obj in self.objects[kind].values():
            if all(obj["lookup"].get(k) == v for k, v in lookup.items()):
                return obj
        return None

    def edit(self, kind: Kind, remote_id: int, **values: Value) -> None:
        """Change an object as someone editing the inventory system by hand would."""
        self.objects[kind][remote_id]["values"].update(values)

    def _remote(self, kind: Kind, remote_id: int) -> RemoteObject:
        return RemoteObject(remote_id, dict(self.objects[kind][remote_id]["values"]))

    async def find(
        self, kind: Kind, lookup: Mapping[str, Value], refs: Mapping[str, int]
    ) -> RemoteObject | None:
        """The object with these lookup fields and parents (a device's rack is no key)."""
        self._call("find", kind)
        keys = {k: v for k, v in refs.items() if k != "rack"}
        for remote_id, obj in self.objects[kind].items():
            parents = {k: v for k, v in obj["refs"].items() if k != "rack"}
            if obj["lookup"] == dict(lookup) and parents == keys:
                return self._remote(kind, remote_id)
        return None

    async def create(self, wanted: Wanted, refs: Mapping[str, int]) -> RemoteObject:
        """Keep a new object."""
        kind, lookup, values = wanted.kind, wanted.lookup, wanted.values
        self._call("create", kind)
        remote_id = self._next_id
        self._next_id += 1
        self.objects[kind][remote_id] = {
            "lookup": dict(lookup),
            "values": dict(values),
            "refs": dict(refs),
        }
        return self._remote(kind, remote_id)

    async def update(self, kind: Kind, remote_id: int, values: Mapping[str, Value]) -> RemoteObject:
        """Write `values` to the kept object."""
        self._call("update", kind)
        if remote_id not in self.objects[kind]:
            raise errors.PermanentUpstreamError(
                f"{kind} {remote_id} does not exist", upstream="dcim", operation=f"update {kind}"
            )
        self.objects[kind][remote_id]["values"].update(values)
        return self._remote(kind, remote_id)


class InMemoryDcimRecords:
    """`orders.phases.deps.DcimRecords` in memory.

    Attributes:
        facts_of: the facts per service id (set by the test).
        pushed_of: what was pushed, by `(kind, key)`.
        drift: every drift report kept, oldest first (none is ever resolved here).
    """

    def __init__(self) -> None:
        self.facts_of: dict[int, Facts] = {}
        self.pushed_of: dict[tuple[str, str], Pushed] = {}
        self.drift: list[Drift] = []

    async def facts(self, service_id: int) -> Facts | None:
        """The kept facts."""
        return self.facts_of.get(service_id)

    async def pushed(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Pushed]:
        """What was pushed to those objects."""
        return {key: self.pushed_of[key] for key in keys if key in self.pushed_of}

    async def save(self, conn: AsyncConnection, service_id: int, result: SyncResult) -> list[Drift]:
        """Keep the pushed state; the drift not reported before."""
        for item in result.pushed:
            self.pushed_of[(item.kind.value, item.key)] = item
        new = [d for d in result.drift if d not in self.drift]
        self.drift.extend(new)
        return new
