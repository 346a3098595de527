"""HTTP helpers for every test tier: clients that talk to an ASGI app in-process."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp


def asgi_client(app: ASGIApp, base_url: str, **options: Any) -> httpx.AsyncClient:
    """An httpx client whose requests `app` answers in-process (no sockets); `options` such as
    `headers=` go to `httpx.AsyncClient`. Use it as `async with asgi_client(...) as client`."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **options)
