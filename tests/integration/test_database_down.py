"""Our PostgreSQL going away: the API answers 503 with `Retry-After`, the worker drops the
attempt, and no task exception goes unobserved; once it is back, everything goes on.

Found by the hardening review: with PostgreSQL down the API answered 500, and the worker's
process task died with the connection error ("Task exception was never retrieved"). The
database "goes down" behind a TCP proxy of our own in front of the test database (or at a port
nobody listens on); the machine's shared PostgreSQL is never stopped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.config import Settings
from fluxbilling.db import schema
from fluxbilling.engine.context import PhaseContext, PhaseHandler
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.orders.pipeline import Phase
from fluxbilling.vault import generate_key
from tests.httpsupport import asgi_client
from tests.integration.conftest import API_TOKEN
from tests.integration.support import finish, place_and_pay, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `stop()` is the database going down."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@pytest.fixture
def backend() -> str:
    """PostgreSQL only: an embedded SQLite file cannot become unreachable."""
    return "postgresql"


@pytest.fixture
async def proxy(pg_test_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(pg_test_url)
    running = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def database_url(proxy: TcpProxy, pg_test_url: str) -> str:
    """The test database, reached through the proxy."""
    return make_url(pg_test_url).set(port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
async def unobserved() -> AsyncIterator[list[Mapping[str, Any]]]:
    """What reaches asyncio's exception handler (e.g. "Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[Mapping[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by nobody listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "DatabaseUnavailable"


async def test_the_api_answers_503_when_the_database_refuses_connections(
    tmp_path: Path, closed_port: int
) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere",
        state_dir=tmp_path,
        secret_key=generate_key(),
        api_token=API_TOKEN,
        stripe_webhook_secret="whsec_test_secret",
    )
    installation = bootstrap.build(settings)
    try:
        async with asgi_client(create_app(installation), "http://api.test", headers=AUTH) as api:
            for url in ("/api/v1/runs", "/api/v1/orders/1", "/api/v1/plugins"):
                _assert_unavailable(await api.get(url))
    finally:
        await installation.close()


async def test_the_api_answers_503_while_the_database_is_down_and_recovers(
    installation: bootstrap.Installation, api: httpx.AsyncClient, proxy: TcpProxy
) -> None:
    assert (await api.get("/api/v1/runs")).status_code == 200  # a pooled connection now

    await proxy.stop()
    _assert_unavailable(await api.get("/api/v1/runs"))  # the pooled connection was reset
    _assert_unavailable(await api.get("/api/v1/runs"))  # a new one is refused
    document = await api.get("/openapi.json")  # needs no database
    assert document.status_code == 200

    await proxy.start()
    assert (await api.get("/api/v1/runs")).status_code == 200


class GoesDown:
    """A phase handler during whose execution the database goes down (and the pool is empty)."""

    def __init__(
        self, inner: PhaseHandler, proxy: TcpProxy, installation: bootstrap.Installation
    ) -> None:
        self.inner = inner
        self.proxy = proxy
        self.installation = installation
        self.done = asyncio.Event()

    async def execute(self, ctx: PhaseContext) -> Outcome:
        if not self.done.is_set():
            await self.proxy.stop()
            await self.installation.db.engine.dispose()
            self.done.set()
        return await self.inner.execute(ctx)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        return await self.inner.commit(conn, ctx, done)


async def test_the_worker_drops_the_attempt_and_leaves_no_task_exception_unobserved(
    installation: bootstrap.Installation,
    proxy: TcpProxy,
    unobserved: list[Mapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    goes_down = GoesDown(installation.handlers[Phase.ALLOCATION], proxy, installation)
    installation.handlers[Phase.ALLOCATION] = goes_down
    order_id = await place_and_pay(installation, "down.example.com")
    worker = installation.worker(concurrency=2)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING)

    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(goes_down.done.wait(), 10)
    await asyncio.sleep(0.5)  # the attempt fails, and the worker polls a dead database
    stop.set()
    await asyncio.wait_for(running, 10)
    gc.collect()  # an unretrieved task exception is reported when the task is collected

    assert unobserved == []
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "never retrieved" in m or "crashed" in m]
    assert any("database unavailable" in m for m in messages)

    await proxy.start()
    run = await run_of(installation, order_id)
    assert (run.state, run.phase, run.last_error) == ("running", "allocation", None)
    await _expire_leases(installation)
    assert (await finish(installation, order_id)).state == "completed"


async def _expire_leases(installation: bootstrap.Installation) -> None:
    async with installation.db.begin() as conn:
        await conn.execute(schema.runs.update().values(lease_expires_at=installation.db.now(-1)))
