"""`GET /api/v1/events` over real HTTP (uvicorn on loopback): events as orders change, resume
with `Last-Event-ID`, heartbeats, the stream cap, disconnects that free everything, and a
server shutdown that does not wait for open streams; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.api.feed import Feed
from fluxbilling.db import Database
from fluxbilling.orders import service
from fluxbilling.server import LoopbackServer, run_serve
from tests.integration.conftest import API_TOKEN
from tests.integration.support import place_and_pay, place_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
WAIT = 20.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"events_poll_interval": 0.05, "events_heartbeat": 0.3, "event_streams": 2}


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    id: str | None


@pytest.fixture
async def served(installation: bootstrap.Installation) -> AsyncIterator[tuple[FastAPI, str]]:
    app = create_app(installation)
    server = LoopbackServer(app)
    await server.start()
    try:
        yield app, server.url
    finally:
        feed: Feed | None = getattr(app.state, "event_feed", None)
        if feed is not None:
            feed.close()
        await asyncio.wait_for(server.stop(), WAIT)


class Stream:
    """Reads server-sent events (and comments) from one streamed response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []

    async def events(self, until: Callable[[Event], bool]) -> list[Event]:
        """Events up to and including the first that satisfies `until`."""
        found: list[Event] = []
        fields: dict[str, str] = {}
        async with asyncio.timeout(WAIT):
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments.append(line)
                    if until(Event("comment", {}, None)):
                        return found
                    continue
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                if "event" in fields:
                    event = Event(fields["event"], json.loads(fields["data"]), fields.get("id"))
                    found.append(event)
                    if until(event):
                        return found
                fields = {}
        raise AssertionError(f"the stream ended first: {found}")


async def _events(response: httpx.Response, until: Callable[[Event], bool]) -> list[Event]:
    return await Stream(response).events(until)


def _order(order_id: int) -> Callable[[Event], bool]:
    return lambda e: e.kind == "order" and e.data["order_id"] == order_id and e.id is not None


async def _feed(app: FastAPI) -> Feed:
    for _ in range(200):
        feed: Feed | None = getattr(app.state, "event_feed", None)
        if feed is not None:
            return feed
        await asyncio.sleep(0.01)
    raise AssertionError("no feed")


async def test_a_stream_tells_of_orders_runs_and_deliveries_as_they_change(
    installation: bootstrap.Installation, served: tuple[FastAPI, str]
) -> None:
    app, url = served
    async with (
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=WAIT) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        order_id = await place_and_pay(installation, "live.example.com")
        kinds: set[str] = set()

        def all_kinds(event: Event) -> bool:
            kinds.add(event.kind)
            return {"order", "delivery", "run"} <= kinds

        stream = Stream(response)
        seen = await stream.events(all_kinds)
        created = next(e for e in seen if e.kind == "order")
        assert created.data == {
            "order_id": order_id,
            "event": "order_created",
            "phase": None,
        }
        paid = next(e for e in seen if e.kind == "order" and e.data["event"] == "invoice_paid")
        assert paid.data["state"] == "provisioning_pending"
        delivery = next(e for e in seen if e.kind == "delivery")
        assert delivery.data["gateway"] == "stripe"
        ids = [e.id for e in seen if e.id is not None]
        assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split(".")))
        # idle: a keep-alive comment comes within the heartbeat
        await stream.events(lambda e: e.kind == "comment")
        assert stream.comments[-1] == ": keepalive"
    assert (await _feed(app)).streams <= 1


async def test_last_event_id_resumes_after_what_was_seen(
    installation: bootstrap.Installation, served: tuple[FastAPI, str]
) -> None:
    app, url = served
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=WAIT) as client:
        async with client.stream("GET", "/api/v1/events") as response:
            first = (await place_order(installation, "first.example.com"))["order"]["id"]
            last_id = (await _events(response, _order(first)))[-1].id
        assert last_id is not None
        # missed while disconnected
        missed = (await place_order(installation, "missed.example.com"))["order"]["id"]
        headers = {"Last-Event-ID": last_id}
        async with client.stream("GET", "/api/v1/events", headers=headers) as response:
            seen = await _events(response, _order(missed))
        assert first not in {e.data.get("order_id") for e in seen}
        for bad in ("nonsense", "1.2.3", "-1.0", "99999999999999999999.0"):
            refused = await client.get("/api/v1/events", headers={"Last-Event-ID": bad})
            assert refused.status_code == 422, bad
            assert refused.json()["error"]["code"] in ("InvalidBody", "ValidationError")
    feed = await _feed(app)
    for _ in range(200):
        if feed.streams == 0:
            break
        await asyncio.sleep(0.02)
    assert feed.streams == 0


async def test_streams_are_capped_and_a_disconnect_frees_its_place(
    served: tuple[FastAPI, str],
) -> None:
    app, url = served
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=WAIT) as client:
        async with client.stream("GET", "/api/v1/events") as one:
            assert one.status_code == 200
            async with client.stream("GET", "/api/v1/events") as two:
                assert two.status_code == 200
                third = await client.get("/api/v1/events")
                assert third.status_code == 503
                assert third.headers["retry-after"] == "5"
                assert third.json()["error"]["code"] == "TooManyStreams"
                feed = await _feed(app)
                assert feed.streams == 2
        for _ in range(200):
            if feed.streams == 0:
                break
            await asyncio.sleep(0.02)
        assert feed.streams == 0
        assert feed._reader is None  # the last one out stopped the reader
        async with client.stream("GET", "/api/v1/events") as again:
            assert again.status_code == 200
        unauthenticated = await client.get("/api/v1/events", headers={"Authorization": ""})
        assert unauthenticated.status_code == 401


async def test_shutdown_does_not_wait_for_open_streams(
    installation: bootstrap.Installation,
) -> None:
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        run_serve(installation, host="127.0.0.1", port=0, stop=stop, ready=ready)
    )
    url = await asyncio.wait_for(ready, WAIT)
    async with (
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=WAIT) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.status_code == 200
        stop.set()
        # well within uvicorn's graceful timeout (10 s): the stream ends, the server stops
        await asyncio.wait_for(serving, 5)
        async with asyncio.timeout(5):
            async for _line in response.aiter_lines():
                pass


async def test_a_change_made_by_another_process_reaches_the_stream(
    database_url: str, served: tuple[FastAPI, str]
) -> None:
    """Another process's writes share nothing with this one but the database."""
    _app, url = served
    other = Database(database_url)
    try:
        async with (
            httpx.AsyncClient(base_url=url, headers=AUTH, timeout=WAIT) as client,
            client.stream("GET", "/api/v1/events") as response,
        ):
            created = await service.create_order(
                other,
                customer_email="other@example.com",
                customer_name="Other",
                product_slug="vps-2g",
                hostname="elsewhere.example.com",
            )
            seen = (await Stream(response).events(_order(created.order.id)))[-1]
            assert seen.data["event"] == "order_created"
    finally:
        await other.dispose()
