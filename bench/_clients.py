"""The load generator's HTTP/1.1 clients: httpx, and a raw keep-alive client that costs far less.

The load generator shares the machine's CPUs with the server and the database, so what it
spends per request is taken from what it measures. httpx costs 3-6 ms of CPU per request
here; `RawClient` writes a prebuilt request in one `write` and reads the answer by its
`Content-Length`, which is all a benchmark against our own server needs.

Both answer `post(path, body, headers) -> Answer` and raise `TransportError` for anything
below HTTP (refused, reset, closed, timed out, an answer they cannot frame).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

__all__ = ["Answer", "Client", "HttpxClient", "RawClient", "TransportError", "open_client"]

# uvicorn closes a keep-alive connection after 5 s idle; a request sent just then would meet
# the close. Idle connections are dropped earlier than that (httpx's default is 5 s too).
KEEPALIVE_EXPIRY = 2.0
TIMEOUT = 120.0


class TransportError(Exception):
    """The request got no HTTP answer."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status and body."""

    status: int
    body: bytes


class Client(Protocol):
    """What the load generator sends through."""

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST `body`; raises `TransportError` when no answer comes back."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


class HttpxClient:
    """An `httpx.AsyncClient` with HTTP/1.1 keep-alive, at most `connections` connections."""

    def __init__(self, base_url: str, connections: int) -> None:
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        self._client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=TIMEOUT)

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST through httpx."""
        try:
            response = await self._client.post(path, content=body, headers=dict(headers))
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return Answer(response.status_code, response.content)

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()


class _Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()
        self.usable = True

    async def exchange(self, request: bytes) -> Answer:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                self.usable = False
            elif name == b"transfer-encoding":
                self.usable = False
                raise TransportError(f"unsupported framing: {line.decode(errors='replace')}")
        if length is None:
            self.usable = False
            raise TransportError("an answer without Content-Length")
        body = await self.reader.readexactly(length)
        self.idle_since = time.monotonic()
        return Answer(status, body)

    def close(self) -> None:
        self.usable = False
        self.writer.close()


class RawClient:
    """HTTP/1.1 keep-alive over asyncio streams, at most `connections` connections.

    Understands answers framed by `Content-Length` (what uvicorn sends for our JSON
    answers); anything else is a `TransportError`.
    """

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            msg = f"RawClient needs http://host:port, not {base_url!r}"
            raise ValueError(msg)
        self.host, self.port = parts.hostname, parts.port
        self._authority = f"{self.host}:{self.port}".encode()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    def _request(self, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        head = [
            b"POST " + path.encode() + b" HTTP/1.1",
            b"Host: " + self._authority,
            b"Content-Length: " + str(len(body)).encode(),
            *(f"{name}: {value}".encode() for name, value in headers.items()),
        ]
        return b"\r\n".join(head) + b"\r\n\r\n" + body

    async def _connection(self) -> tuple[_Connection, bool]:
        """An idle connection that has not expired (reused: True), or a new one."""
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < KEEPALIVE_EXPIRY:
                return conn, True
            conn.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer), False

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST on a keep-alive connection (a new one if a reused one was closed under it)."""
        request = self._request(path, body, headers)
        async with self._slots:
            for _ in range(2):
                conn: _Connection | None = None
                reused = False
                try:
                    async with asyncio.timeout(TIMEOUT):
                        conn, reused = await self._connection()
                        answer = await conn.exchange(request)
                except asyncio.IncompleteReadError as exc:
                    if conn is not None:
                        conn.close()
                    # The server closed a reused connection before answering: send it again on
                    # a fresh one (it was never read, or it would have been answered).
                    if reused and not exc.partial:
                        continue
                    raise TransportError(f"connection closed mid-answer: {exc}") from exc
                except (OSError, TimeoutError, asyncio.LimitOverrunError, ValueError) as exc:
                    if conn is not None:
                        conn.close()
                    raise TransportError(f"{type(exc).__name__}: {exc}") from exc
                except TransportError:
                    if conn is not None:
                        conn.close()
                    raise
                if conn.usable:
                    self._idle.append(conn)
                else:
                    conn.close()
                return answer
        raise TransportError("the server closed two connections in a row")

    async def aclose(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()


def open_client(kind: str, base_url: str, connections: int) -> Client:
    """`raw` or `httpx`."""
    if kind == "raw":
        return RawClient(base_url, connections)
    return HttpxClient(base_url, connections)
