"""The phases' port to the database: what they read and write, and nothing else.

Two protocols, one per transaction scope. `PhaseStore` serves `execute` (each call its own
transaction, fenced by the run's lease where it writes); `PhaseWrites` serves `commit`, bound
to the fenced transaction that completes the phase. `sql_store.SqlPhaseStore` is the real
one; `fluxbilling.testing.InMemoryPhaseStore` is the fake the phases' unit tests use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation.reservation import Release, Reservation
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.runs import Claim
from fluxbilling.orders import lifecycle
from fluxbilling.orders.view import OrderView

__all__ = ["ActionRow", "PhaseStore", "PhaseWrites", "ProvisionFailure", "WelcomeMail"]


@dataclass(frozen=True, slots=True)
class ActionRow:
    """A requested lifecycle action (`service_actions`), as the action phase reads it."""

    id: int
    service_id: int
    verb: str
    params: Mapping[str, Any]
    plugin_slug: str
    plugin_version: int
    reason: str | None = None
    secret_sealed: str | None = None
    """A new password (`reset_password`), sealed with the installation key."""


@dataclass(frozen=True, slots=True)
class WelcomeMail:
    """The outbox row of an order's welcome mail (its body with the password masked)."""

    order_id: int
    to_addr: str
    subject: str
    body_masked: str
    message_id: str


@dataclass(frozen=True, slots=True)
class ProvisionFailure:
    """What a failed provision attempt did to the order's host and allocation."""

    host: str | None
    """The host it failed on (None: the service has no host)."""
    quarantined: bool = False
    """This failure quarantined the host."""
    moved_to: str | None = None
    """The host the order was re-allocated to (None: it stays where it was)."""


class PhaseWrites(Protocol):
    """Reads and writes inside the fenced transaction that completes a phase."""

    async def record(self, event: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        """Append an activity row of this attempt."""
        ...

    async def view(self, order_id: int) -> OrderView:
        """The order and its neighbours, as this transaction sees them."""
        ...

    async def reserve(
        self, order_id: int, product: Mapping[str, Any], *, with_address: bool
    ) -> Reservation:
        """Reserve a host's capacity (and an address from our IPAM when `with_address`).

        Raises:
            errors.CapacityExhausted: no host or address fits.
        """
        ...

    async def adopt_hold(self, order_id: int) -> Reservation | None:
        """Consume the order's checkout hold, if one is held, and answer its reservation.

        Returns:
            What the hold reserved (same host, same address), or None: no hold is held.
        """
        ...

    async def create_service(
        self, order_id: int, host_id: int, *, storage_pool_id: int | None = None
    ) -> int:
        """Create the order's service in its initial state (`orders.lifecycle`) on `host_id`
        (its disk on `storage_pool_id`, None: the host's own disk); the order's reserved
        address becomes its address.

        Returns:
            The new service's id.
        """
        ...

    async def release(self, order_id: int) -> Release:
        """Give back the order's capacity and address."""
        ...

    async def host_succeeded(self, host_id: int) -> None:
        """A provision succeeded on `host_id`: its failures in a row start from zero."""
        ...

    async def assign_address(self, order_id: int, service_id: int) -> None:
        """Mark the order's reserved address assigned to its service."""
        ...

    async def set_lease_ptrs(self, ptrs: Sequence[Mapping[str, Any]]) -> None:
        """Store on each lease (`lease_id`) the PTR published for it (`zone`, `name`, `content`)."""
        ...

    async def merge_service_data(
        self, service_id: int, patch: Mapping[str, Any], **columns: str | None
    ) -> None:
        """Merge `patch` into `service_data` and set `columns` (never `status`).

        Raises:
            errors.InvariantViolation: `columns` names `status` (the lifecycle's to write).
        """
        ...

    async def transition(
        self,
        event: str,
        message: str,
        *moves: lifecycle.Move,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Append this attempt's activity row of one event, with the states it moves.

        One event, one row (`orders.lifecycle.transition`): each move is added to the row's
        data under its machine's name; with no moves only the row is written.

        Raises:
            errors.IllegalTransition: a state does not allow its move's event (nothing of
                this event is written).
        """
        ...

    async def action(self, action_id: int) -> ActionRow:
        """An action by id."""
        ...

    async def service_data(self, service_id: int) -> Mapping[str, Any]:
        """A service's `service_data`, as this transaction sees it."""
        ...

    async def store_action_result(self, action_id: int, result: Any) -> None:
        """Keep what the action's verb answered (already sealed where it must be)."""
        ...

    async def revoke_reveal_links(self, service_id: int) -> int:
        """Revoke the service's password reveal links not yet used (`handoff.reveal`).

        Returns:
            How many were outstanding.
        """
        ...

    async def assign_interface(
        self, service_id: int, host_id: int | None, interface: str, address: str, dns_name: str
    ) -> None:
        """Keep the service's interface and address in our DCIM model (`dcim_assignments`)."""
        ...

    async def enqueue_follow_up(self, kind: str, phase: str, dedupe_key: str) -> bool:
        """Enqueue a run of `kind` for this order unless one with `dedupe_key` exists.

        Returns:
            Whether a run was enqueued (False: an earlier attempt did).
        """
        ...


class PhaseStore(Protocol):
    """Reads and writes of the phases' `execute`, each in its own transaction."""

    async def view(self, order_id: int) -> OrderView:
        """The order and its neighbours.

        Raises:
            errors.NotFound: no such order.
        """
        ...

    async def pin_driver(self, claim: Claim, service_id: int, slug: str, version: int) -> int:
        """Pin `slug@version` on the service unless a version is pinned already (fenced).

        Returns:
            The version the service is pinned at now.
        """
        ...

    async def seal_password(self, ctx: PhaseContext, service_id: int, sealed: str) -> str:
        """Keep `sealed` as the service's root password unless it has one (fenced).

        Returns:
            The sealed password the service has now (the first one kept wins).
        """
        ...

    async def save_cursor(self, claim: Claim, cursor: Mapping[str, Any]) -> None:
        """Keep a cursor for the running phase now (`engine.runs.RunStore.save_cursor`)."""
        ...

    async def provision_failed(
        self, ctx: PhaseContext, error: str, *, quarantine_after: int, reallocate: bool
    ) -> ProvisionFailure:
        """Count a failed provision attempt against the order's host (fenced).

        At `quarantine_after` failures in a row the host is quarantined (activity and audit
        rows say why). With `reallocate` (the failure was permanent) the host's capacity is
        given back and the order re-allocated to the next candidate, excluding the hosts it
        already failed on; when none fits, the allocation stays as it was.

        Args:
            ctx: the failed attempt.
            error: the error's message (no secrets: drivers redact them).
            quarantine_after: the installation's limit (0: never quarantine).
            reallocate: try another host.
        """
        ...

    async def quarantine_image(self, image_id: int) -> None:
        """Take an image out of service (its checksum failed)."""
        ...

    async def action(self, run_id: int) -> ActionRow:
        """The action an action run executes.

        Raises:
            errors.InvariantViolation: the run has no action.
        """
        ...

    async def queue_mail(self, claim: Claim, mail: WelcomeMail) -> str:
        """Put the welcome mail in the outbox unless it is there (fenced).

        Returns:
            Its status: `queued`, or `sent` when an earlier attempt sent it.
        """
        ...

    async def mail_sent(self, message_id: str) -> None:
        """Mark an outbox mail sent."""
        ...

    async def issue_reveal_link(
        self, ctx: PhaseContext, service_id: int, token: str, *, hours: int
    ) -> None:
        """Keep a one-time password reveal link for `token` (its hash only), valid for
        `hours`; the service's earlier links are revoked (fenced)."""
        ...

    def writes(self, conn: AsyncConnection, ctx: PhaseContext) -> PhaseWrites:
        """The writes of `ctx`'s completion, in the fenced transaction `conn`."""
        ...
