"""Process entrypoints: API + worker in one process (`serve`), extra workers (`worker`).

Both stop gracefully on SIGTERM/SIGINT: no new claims, in-flight phases finish (a phase
cut off anyway is retried elsewhere once its lease runs out). Both wait for a database that
is away when they start (a PostgreSQL restart) instead of exiting.

The HTTP server is uvicorn with h11. A request head (request line and headers) larger than
the header limit (`limits.HEADER_BYTES`, setting `max_header_bytes`) is answered 431 in the
API's error shape: h11 stops buffering a head at that size and we answer its 431 hint
(uvicorn itself would answer 400); a head that arrives whole is measured by
`api.request_limits`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from fluxbilling import limits
from fluxbilling.bootstrap import Installation
from fluxbilling.db.migrate import upgrade
from fluxbilling.engine.outage import when_available
from fluxbilling.engine.wakeup import PgListener

__all__ = ["LoopbackServer", "freeze_startup_objects", "prepare", "run_serve", "run_worker"]

log = logging.getLogger(__name__)

_GRACEFUL_SECONDS = 10


class _HintedConnection(h11.Connection):
    """An h11 connection that remembers the status h11 suggests for a malformed request."""

    error_status = 400

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error_status = exc.error_status_hint
            raise


class _H11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering a request head that outgrows the limit with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head = self.config.h11_max_incomplete_event_size or limits.HEADER_BYTES
        self.hinted = _HintedConnection(h11.SERVER, self.max_head)
        self.conn = self.hinted

    def send_400_response(self, msg: str) -> None:
        """Answer a request h11 could not parse: 431 when its head was too large, else 400."""
        if self.hinted.error_status != 431:
            super().send_400_response(msg)
            return
        from fluxbilling.api.errors import error_body

        log.warning("refused a request head over %s bytes (431)", self.max_head)
        message = f"request headers larger than {limits.describe_size(self.max_head)}"
        body = error_body("HeadersTooLarge", message, {"max_bytes": self.max_head})
        data = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(
                status_code=431, headers=headers, reason=b"Request Header Fields Too Large"
            ),
            h11.Data(data=data),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


class LoopbackServer:
    """An ASGI app served by uvicorn inside the current event loop, on a given or free port."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_header_bytes: int = limits.HEADER_BYTES,
    ) -> None:
        """Bind the socket now; `start` serves.

        Args:
            app: the ASGI app.
            host: the address to listen on.
            port: the port (0: any free one).
            max_header_bytes: a request head larger than this is answered 431.
        """
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit it: without it, Nagle + delayed ACK add ~40 ms per answer.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            http=_H11Protocol,
            h11_max_incomplete_event_size=max_header_bytes,
            # A response still streaming after this is cut off: shutdown never hangs.
            timeout_graceful_shutdown=_GRACEFUL_SECONDS,
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        self._task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving and wait for it."""
        self.server.should_exit = True
        if self._task is not None:
            await self._task
        self.sock.close()


def freeze_startup_objects() -> None:
    """Collect once, then move every object alive now out of the garbage collector's scans.

    Start-up objects (modules, the app, plugins, compiled statements) live as long as the
    process; left in the collector's generations, each full collection walks them all (about
    50 ms idle, 80-200 ms under load), and that pause lands on whatever requests are in flight.
    """
    gc.collect()
    gc.freeze()


async def prepare(installation: Installation) -> None:
    """Embedded SQLite migrates itself; every process registers the shipped plugins."""
    if installation.db.is_sqlite:
        await upgrade(installation.db)
    await installation.load_builtin_plugins()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _listener(installation: Installation) -> PgListener | None:
    if installation.db.is_sqlite:
        return None
    url = installation.db.engine.url.set(drivername="postgresql")
    listener = PgListener(url.render_as_string(hide_password=False), installation.wakeup)
    await listener.start()
    return listener


def _background(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task whose failure is logged when it happens, not found (or lost) at shutdown."""
    task = asyncio.create_task(coro, name=name)

    def _done(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and (exc := t.exception()) is not None:
            log.error("%s stopped by an error", name, exc_info=exc)

    task.add_done_callback(_done)
    return task


def _reconcile(installation: Installation, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The reconciler's periodic passes, next to the worker (none when the interval is 0)."""
    interval = installation.settings.reconcile_interval
    if interval <= 0:
        return None
    return _background(installation.reconciler().run_forever(stop, interval), "reconciler")


async def _prepare_when_available(installation: Installation, stop: asyncio.Event) -> bool:
    """`prepare`, retried while the database is away; False when stopped before it worked."""
    return await when_available(lambda: prepare(installation), stop=stop, what="start-up")


async def run_worker(installation: Installation, *, concurrency: int | None = None) -> None:
    """Run a worker until SIGTERM."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    if not await _prepare_when_available(installation, stop):
        await installation.close()
        return
    listener = await _listener(installation)
    worker = installation.worker(concurrency=concurrency)
    log.info("worker %s started", worker.worker_id)
    reconciling = _reconcile(installation, stop)
    try:
        await worker.run(stop)
    finally:
        if reconciling is not None:
            await reconciling
        if listener:
            await listener.stop()
        await installation.close()


async def run_serve(
    installation: Installation,
    *,
    host: str,
    port: int,
    plugin_dir: Path | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Future[str] | None = None,
) -> None:
    """API + worker (+ plugin folder hot-loading) in one process, until SIGTERM.

    Args:
        installation: what to serve.
        host: the address to listen on.
        port: the port (0: any free one).
        plugin_dir: hot-load `*.json` plugins from this folder.
        stop: set it to stop (embedding, tests); default: SIGTERM/SIGINT.
        ready: receives the API's URL once it accepts connections.
    """
    from fluxbilling.api import create_app, events

    if stop is None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
    if not await _prepare_when_available(installation, stop):
        await installation.close()
        return
    listener = await _listener(installation)
    dns = await installation.start_dns()
    if dns is not None:
        log.info("internal DNS server on %s:%s (UDP and TCP)", *dns.address)
    app = create_app(installation)
    server = LoopbackServer(
        app,
        host,
        port,
        max_header_bytes=installation.settings.max_header_bytes,
    )
    await server.start()
    log.info("API listening on %s", server.url)
    if installation.db.is_sqlite:
        token_file = Path(installation.settings.state_dir) / "api_token.secret"
        log.info("API token: FLUXBILLING_API_TOKEN, or the file %s", token_file)
    freeze_startup_objects()
    if ready is not None:
        ready.set_result(server.url)
    tasks = [_background(installation.worker().run(stop), "worker")]
    reconciling = _reconcile(installation, stop)
    if reconciling is not None:
        tasks.append(reconciling)
    if plugin_dir is not None:
        tasks.append(_background(installation.plugins.watch([plugin_dir], stop), "plugin watcher"))
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        events.close_streams(app)  # open event streams would hold the server's shutdown
        await server.stop()
        if listener:
            await listener.stop()
        await installation.close()
