"""`StripeNotifier`: delivers a simulated Stripe account's queued events, signed, like Stripe.

The queue mechanics (rounds, retry at the back, manual resend, reorder, drop) are
`simulators._outbox.Outbox`'s; what is Stripe's own lives here: every attempt is signed
afresh (``Stripe-Signature`` with the state's clock), any 2xx delivers, anything else is
retried until ``max_retries`` retries have failed (`delivery_outcome`). Importable from
`simulators.stripe`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import httpx

from fluxbilling_simulators._outbox import Outbox
from fluxbilling_simulators._stripe_events import (
    Attempt,
    Event,
    delivery_outcome,
    signed_headers,
)
from fluxbilling_simulators._stripe_state import StripeState

__all__ = ["TEST_MODE_RETRIES", "WEBHOOK_TIMEOUT", "StripeNotifier"]

TEST_MODE_RETRIES = 3
WEBHOOK_TIMEOUT = 20.0


class StripeNotifier(Outbox[str, Event, Attempt]):
    """POSTs the state's queued events to one webhook endpoint the way Stripe does.

    Every attempt is signed afresh with the state's clock and recorded in `state.attempts`.
    A failed event goes to the back of the queue (later events overtake it, as they may at
    Stripe) until `max_retries` retries have failed. `deliver_next`, `deliver_all` and
    `deliver_until_settled` (at most 10 rounds by default) run the queue; `deliver` sends
    one queued event ahead of the others, `redeliver` is the Dashboard's "Resend",
    `reorder` and `drop` steer it.

    Args:
        state: Whose `events`, `queue` and `attempts` to use.
        url: The endpoint's URL.
        secret: The endpoint's signing secret (``whsec_...``).
        client: The client to POST with; when None, a fresh one per attempt over
            `transport` (the network when None), following no redirects.
        transport: The transport of those fresh clients (a MockTransport in tests).
        timeout: Seconds to wait for an answer.
        max_retries: Retries after the first attempt (Stripe's test mode: 3).
        extra_secrets: More signing secrets (a rolled secret still valid): one more ``v1``.
    """

    noun = "event"

    def __init__(
        self,
        state: StripeState,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = WEBHOOK_TIMEOUT,
        max_retries: int = TEST_MODE_RETRIES,
        extra_secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(client=client, transport=transport, timeout=timeout)
        self.state = state
        self.url = url
        self.secret = secret
        self.max_retries = max_retries
        self.extra_secrets = tuple(extra_secrets)

    @property
    def _items(self) -> Mapping[str, Event]:
        return self.state.events

    @property
    def _queue(self) -> deque[str]:
        return self.state.queue

    @property
    def _log(self) -> list[Attempt]:
        return self.state.attempts

    async def _try(self, item: Event, *, manual: bool) -> Attempt:
        t = self.state.now()
        headers = signed_headers(item.body, self.secret, t, self.extra_secrets)
        status, error = await self._post(self.url, item.body, headers)
        return Attempt(
            event_id=item.id,
            event_type=item.type,
            attempt=item.attempts,
            http_status=status,
            error=error,
            outcome=delivery_outcome(status, item.attempts, self.max_retries),
            signed_at=t,
            manual=manual,
        )

    def event(self, event_id: str) -> Event:
        """One event by id.

        Raises:
            errors.NotFound: No such event.
        """
        return self._item(event_id)

    async def deliver(self, event_id: str) -> Attempt:
        """Send one queued event now, ahead of the others.

        Raises:
            errors.NotFound: No such event.
            errors.Conflict: It is not queued.
        """
        return await self._send_queued(event_id, self._unqueue(event_id))

    async def redeliver(self, event_id: str) -> Attempt:
        """Send an event again, as the Dashboard's "Resend" does (never re-queued).

        Raises:
            errors.NotFound: No such event.
        """
        return await self._redeliver(event_id)

    def reorder(self, event_ids: Sequence[str]) -> None:
        """Put the queued events in this order (a permutation of the queued ids).

        Raises:
            errors.Conflict: `event_ids` is not a permutation of the queue.
        """
        self._reorder(event_ids)

    def drop(self, event_id: str) -> Event:
        """Lose a queued event: it is never sent (state ``dropped``).

        Raises:
            errors.NotFound: No such event.
            errors.Conflict: It is not queued.
        """
        return self._drop(event_id)
