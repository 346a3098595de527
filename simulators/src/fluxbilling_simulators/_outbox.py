"""The queue mechanics the Stripe and CoinGate notifiers share: an outbox of pending items.

A state object holds the items by id, a FIFO `queue` of the ids still to be sent and a list
of recorded attempts; `Outbox` drives them. What an attempt is (headers, signature, body)
and what its answer means (delivered, retry, ended, given up) stay with each gateway's
subclass, which implements `_try`; the rounds are the same everywhere:

- `deliver_next` pops the first queued id and makes one attempt: an outcome of ``retry``
  puts the id back at the *end* of the queue (later items overtake it, as they may at the
  real gateway), any other outcome becomes the item's ``state``;
- `deliver_all` is one round: every id queued when it starts gets exactly one attempt;
- `deliver_until_settled` runs rounds until the queue is empty (or ``max_rounds``);
- `_redeliver` is a manual resend (counted and recorded, never re-queued), `_reorder` a
  permutation of the queue, `_drop` loses a queued item (state ``dropped``).

Subclasses expose the id-taking operations under their own names and parameter names
(``redeliver(event_id)``, ``drop(callback_id)``...).
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Mapping, Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

import httpx

from fluxbilling import errors

__all__ = ["Outbox", "Pending", "Recorded"]


class Pending(Protocol):
    """An item in an outbox: how often it was tried and its fate (``queued`` first)."""

    attempts: int
    state: str


class Recorded(Protocol):
    """One recorded attempt; ``retry`` re-queues the item, anything else is final."""

    @property
    def outcome(self) -> str:
        """``retry`` or the item's final state (``delivered``, ``gave_up``...)."""


K = TypeVar("K", str, int)
I = TypeVar("I", bound=Pending)  # noqa: E741 - the conventional name of an item type
A = TypeVar("A", bound=Recorded)


class Outbox(abc.ABC, Generic[K, I, A]):
    """Sends a state's queued items one attempt at a time and records every attempt.

    Args:
        client: The client to POST with; when None, a fresh one per attempt over
            `transport` (the network when None), following no redirects.
        transport: The transport of those fresh clients (a MockTransport in tests).
        timeout: Seconds to wait for an answer.
    """

    noun: ClassVar[str]
    """What an item is called in messages and error details (``event``, ``callback``)."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        self.client = client
        self.transport = transport
        self.timeout = timeout

    # -- what a subclass provides --------------------------------------------------------

    @property
    @abc.abstractmethod
    def _items(self) -> Mapping[K, I]:
        """Every item by id (the state's table)."""

    @property
    @abc.abstractmethod
    def _queue(self) -> deque[K]:
        """The ids waiting for their next attempt, in sending order (the state's queue)."""

    @property
    @abc.abstractmethod
    def _log(self) -> list[A]:
        """Where attempts are recorded (the state's attempts)."""

    @abc.abstractmethod
    async def _try(self, item: I, *, manual: bool) -> A:
        """Send `item` once and describe the attempt (``item.attempts`` counts it already)."""

    # -- shared ---------------------------------------------------------------------------

    @property
    def queued(self) -> list[I]:
        """Items waiting for their next attempt, in sending order."""
        return [self._items[i] for i in self._queue]

    def _item(self, item_id: K) -> I:
        found = self._items.get(item_id)
        if found is None:
            raise errors.NotFound(f"no {self.noun} {item_id}", **{f"{self.noun}_id": item_id})
        return found

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int | None, str | None]:
        """POST once: the answer's status, or None and why there was none."""
        client = self.client or httpx.AsyncClient(transport=self.transport, follow_redirects=False)
        try:
            response = await client.post(url, content=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.TransportError as exc:
            return None, type(exc).__name__
        finally:
            if self.client is None:
                await client.aclose()
        return response.status_code, None

    async def _attempt(self, item: I, *, manual: bool) -> A:
        item.attempts += 1
        attempt = await self._try(item, manual=manual)
        self._log.append(attempt)
        return attempt

    async def _send_queued(self, item_id: K, item: I) -> A:
        """One attempt for an item just taken off the queue: back at the end, or settled."""
        attempt = await self._attempt(item, manual=False)
        if attempt.outcome == "retry":
            self._queue.append(item_id)
        else:
            item.state = attempt.outcome
        return attempt

    async def deliver_next(self) -> A | None:
        """Send the first queued item once; None when nothing is queued."""
        if not self._queue:
            return None
        item_id = self._queue.popleft()
        return await self._send_queued(item_id, self._items[item_id])

    async def deliver_all(self) -> list[A]:
        """One round: every item queued now gets one attempt, in queue order."""
        return [
            attempt
            for _ in range(len(self._queue))
            if (attempt := await self.deliver_next()) is not None
        ]

    async def deliver_until_settled(self, *, max_rounds: int = 10) -> list[A]:
        """Rounds until the queue is empty (each item delivered or settled otherwise)."""
        attempts: list[A] = []
        for _ in range(max_rounds):
            if not self._queue:
                break
            attempts.extend(await self.deliver_all())
        return attempts

    async def _redeliver(self, item_id: K) -> A:
        return await self._attempt(self._item(item_id), manual=True)

    def _reorder(self, item_ids: Sequence[K]) -> None:
        if sorted(item_ids) != sorted(self._queue):
            raise errors.Conflict(
                f"reorder needs exactly the queued {self.noun} ids",
                queued=list(self._queue),
                given=list(item_ids),
            )
        self._queue.clear()
        self._queue.extend(item_ids)

    def _unqueue(self, item_id: K) -> I:
        """Take a queued item off the queue (NotFound: unknown; Conflict: not queued)."""
        item = self._item(item_id)
        if item_id not in self._queue:
            raise errors.Conflict(f"{self.noun} {item_id} is not queued ({item.state})")
        self._queue.remove(item_id)
        return item

    def _drop(self, item_id: K) -> I:
        item = self._unqueue(item_id)
        item.state = "dropped"
        return item
