"""The shared outbox: one attempt per item per round, retries at the back, manual steering."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import pytest

from fluxbilling import errors
from fluxbilling_simulators._outbox import Outbox

pytestmark = pytest.mark.anyio

URL = "https://receiver.example/hook"


@dataclass
class Item:
    body: bytes
    attempts: int = 0
    state: str = "queued"


@dataclass(frozen=True)
class Sent:
    item: bytes
    status: int | None
    error: str | None
    outcome: str
    manual: bool


@dataclass
class World:
    items: dict[str, Item] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    sent: list[Sent] = field(default_factory=list)

    def add(self, *ids: str) -> None:
        for item_id in ids:
            self.items[item_id] = Item(item_id.encode())
            self.queue.append(item_id)


class FakeOutbox(Outbox[str, Item, Sent]):
    """200 delivers, 410 ends, anything else is retried until the third attempt."""

    noun = "thing"

    def __init__(
        self,
        world: World,
        transport: httpx.MockTransport | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(client=client, transport=transport, timeout=1.0)
        self.world = world

    @property
    def _items(self) -> Mapping[str, Item]:
        return self.world.items

    @property
    def _queue(self) -> deque[str]:
        return self.world.queue

    @property
    def _log(self) -> list[Sent]:
        return self.world.sent

    async def _try(self, item: Item, *, manual: bool) -> Sent:
        status, error = await self._post(URL, item.body, {"X-Attempt": str(item.attempts)})
        outcome = {200: "delivered", 410: "ended"}.get(status or 0, "retry")
        if outcome == "retry" and item.attempts >= 3:
            outcome = "gave_up"
        return Sent(item.body, status, error, outcome, manual)


def answering(answers: dict[bytes, list[int | type[httpx.TransportError]]]) -> httpx.MockTransport:
    """Per body, the answers in order (an exception class is raised); 200 when used up."""

    def handler(request: httpx.Request) -> httpx.Response:
        queued = answers.get(request.content, [])
        answer = queued.pop(0) if queued else 200
        if isinstance(answer, int):
            return httpx.Response(answer)
        raise answer("simulated", request=request)

    return httpx.MockTransport(handler)


async def test_a_round_gives_each_queued_item_one_attempt_and_retries_go_to_the_back() -> None:
    world = World()
    world.add("a", "b", "c")
    outbox = FakeOutbox(world, answering({b"a": [500], b"b": [410]}))

    first = await outbox.deliver_all()

    assert [(s.item, s.outcome) for s in first] == [
        (b"a", "retry"),
        (b"b", "ended"),
        (b"c", "delivered"),
    ]
    assert list(world.queue) == ["a"]
    assert [i.state for i in outbox.queued] == ["queued"]
    assert (world.items["b"].state, world.items["c"].state) == ("ended", "delivered")
    assert world.sent == first


async def test_until_settled_stops_on_an_empty_queue_or_after_max_rounds() -> None:
    world = World()
    world.add("a", "b")
    outbox = FakeOutbox(
        world, answering({b"a": [500, httpx.ReadTimeout, 503], b"b": [httpx.ConnectError]})
    )

    assert len(await outbox.deliver_until_settled(max_rounds=1)) == 2
    rest = await outbox.deliver_until_settled()

    assert [(s.item, s.error, s.outcome) for s in rest] == [
        (b"a", "timeout", "retry"),
        (b"b", None, "delivered"),
        (b"a", None, "gave_up"),
    ]
    assert world.sent[1].error == "ConnectError"
    assert await outbox.deliver_next() is None
    assert await outbox.deliver_until_settled() == []


async def test_redelivery_is_recorded_but_never_queued() -> None:
    world = World()
    world.add("a")
    outbox = FakeOutbox(world, answering({b"a": [200, 500]}))
    await outbox.deliver_all()

    again = await outbox._redeliver("a")

    assert (again.outcome, again.manual, world.items["a"].attempts) == ("retry", True, 2)
    assert list(world.queue) == []
    assert world.items["a"].state == "delivered"


async def test_unknown_ids_are_not_found_with_the_nouns_detail() -> None:
    outbox = FakeOutbox(World(), answering({}))

    with pytest.raises(errors.NotFound) as raised:
        await outbox._redeliver("nope")

    assert (raised.value.message, raised.value.details) == ("no thing nope", {"thing_id": "nope"})


async def test_reorder_takes_a_permutation_of_the_queue_only() -> None:
    world = World()
    world.add("a", "b", "c")
    outbox = FakeOutbox(world, answering({}))

    outbox._reorder(["c", "a", "b"])
    with pytest.raises(errors.Conflict) as raised:
        outbox._reorder(["c", "a"])

    assert list(world.queue) == ["c", "a", "b"]
    assert raised.value.message == "reorder needs exactly the queued thing ids"
    assert raised.value.details == {"queued": ["c", "a", "b"], "given": ["c", "a"]}


async def test_drop_loses_a_queued_item_and_refuses_others() -> None:
    world = World()
    world.add("a", "b")
    outbox = FakeOutbox(world, answering({}))

    dropped = outbox._drop("a")
    with pytest.raises(errors.Conflict, match=r"thing a is not queued \(dropped\)"):
        outbox._drop("a")
    with pytest.raises(errors.NotFound):
        outbox._unqueue("z")

    assert (dropped.state, list(world.queue)) == ("dropped", ["b"])
    assert [s.item for s in await outbox.deliver_all()] == [b"b"]


async def test_a_given_client_is_used_for_every_attempt_and_left_open() -> None:
    world = World()
    world.add("a", "b")
    async with httpx.AsyncClient(transport=answering({b"a": [500]})) as client:
        outbox = FakeOutbox(world, client=client)

        sent = await outbox.deliver_until_settled()

        assert [(s.item, s.status) for s in sent] == [(b"a", 500), (b"b", 200), (b"a", 200)]
        assert not client.is_closed
