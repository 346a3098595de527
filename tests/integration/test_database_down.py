"""Our PostgreSQL going away: the API answers 503 with `Retry-After` in the error shape, and
answers again once the database is back.

Found by the hardening review: with PostgreSQL down the API answered 500. The database "goes
down" behind a TCP proxy of our own in front of the test database, sits at a port nobody
listens on, or is a stand-in that answers every connection "shutting down" (SQLSTATE 57P03);
the machine's shared PostgreSQL is never stopped. (The worker's side of an outage is
`test_database_restart.py`.)
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.config import Settings
from fluxbilling.vault import generate_key
from tests.httpsupport import asgi_client
from tests.integration.conftest import API_TOKEN

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


_SSL_REQUEST = 80877103


async def _shutting_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer a PostgreSQL client as a server that is shutting down (SQLSTATE 57P03)."""
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    message = await reader.readexactly(size - 4)
    if struct.unpack("!i", message[:4])[0] == _SSL_REQUEST:
        writer.write(b"N")  # no TLS; the startup message follows
        (size,) = struct.unpack("!i", await reader.readexactly(4))
        await reader.readexactly(size - 4)
    fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is shutting down\0\0"
    writer.write(b"E" + struct.pack("!i", len(fields) + 4) + fields)
    await writer.drain()
    writer.close()


@pytest.fixture(params=["refused", "shutting-down"])
async def unreachable(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    """A port where connections are refused (bound, not listening), or where a stand-in
    PostgreSQL answers every connection "the database system is shutting down"."""
    if request.param == "refused":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]
        return
    server = await asyncio.start_server(_shutting_down, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "DatabaseUnavailable"


async def test_the_api_answers_503_when_the_database_cannot_be_reached(
    tmp_path: Path, unreachable: int
) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{unreachable}/nowhere",
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
