"""A simulator served on a real socket, for clients that only speak HTTP (the vendors' SDKs).

Most tests reach an app in-process (`httpsupport.asgi_client`); the vendors' own Python
clients are synchronous `requests` users and need a listening port. `serve` runs uvicorn on
127.0.0.1 in a thread of this process, so a test still reads and steers the simulator's
state directly between calls.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve"]


@contextmanager
def serve(app: ASGIApp, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve `app` on a free local port while the block runs.

    Args:
        app: The ASGI app (a simulator from its ``create_app``).
        startup_timeout: Seconds to wait for uvicorn to accept connections.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
