"""The operator console: the built single-page app, served at `/` beside the API.

`make install` builds `console/` (TypeScript, React) into the package's `console/` folder
(`PACKAGED`, carried by the wheel); the setting `console_dir` points elsewhere. Every path no
API route claims falls to `ConsoleFiles`, the router's default:

| request                                   | answer                                          |
|-------------------------------------------|-------------------------------------------------|
| a file of the build (`/assets/app-1a2b.js`) | the file; hashed assets `immutable` for a year |
| `/assets/...` that is not there           | 404 (an old hash must not get HTML)             |
| any other path (`/`, `/orders/42`)        | `index.html`, `no-cache`: the app routes it     |
| under `/api`, `/webhooks`, `/metrics`, ... | the API's own 404, never the console            |
| anything but GET or HEAD                  | the API's own 404                               |
| the console is not built                  | 503, a page saying how to build it              |

Console answers carry a strict Content-Security-Policy (`default-src 'self'`, no framing);
the component library injects `<style>` elements, allowed by a nonce drawn per answer and
handed to the app in `index.html` (`<meta name="csp-nonce">`).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
from fastapi import FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "IMMUTABLE",
    "NONCE_PLACEHOLDER",
    "PACKAGED",
    "RESERVED",
    "ConsoleFiles",
    "install",
    "security_headers",
]

PACKAGED = Path(__file__).resolve().parents[1] / "console"
"""Where `make install` builds the console: inside the package, so the wheel carries it."""

RESERVED = (
    "/api",
    "/webhooks",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/healthz",
    "/reveal",
    "/checkout",
)
"""Path prefixes that belong to the API: the console never answers for them."""

NONCE_PLACEHOLDER = "__CSP_NONCE__"
"""Replaced in `index.html` by the answer's style nonce."""

IMMUTABLE = "public, max-age=31536000, immutable"
_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FluxBilling console not built</title></head>
<body><h1>The operator console is not built</h1>
<p>The API is running (<a href="/docs">/docs</a>), but no console build was found in
<code>{directory}</code>.</p>
<p>Build it with <code>make install</code> (it runs <code>npm ci</code> and
<code>npm run build</code> in <code>console/</code>), then reload this page.</p>
</body></html>
"""


def security_headers(nonce: str | None = None) -> dict[str, str]:
    """The headers of every console answer (a style nonce for `index.html`)."""
    styles = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    policy = (
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
        f"form-action 'self'; img-src 'self' data:; style-src {styles}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


def _reserved(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


class ConsoleFiles:
    """ASGI app: the console's files with SPA fallback; everything else to `fallback`."""

    def __init__(self, directory: Path, fallback: ASGIApp) -> None:
        """Serve `directory` (a Vite build); `fallback` answers what is not the console's."""
        self.root = directory.resolve()
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (see the module docstring for which)."""
        path: str = scope.get("path", "/")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or _reserved(path)
            or "\x00" in path
        ):
            await self.fallback(scope, receive, send)
            return
        response = await self._answer(path.lstrip("/"))
        if response is None:
            await self.fallback(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _answer(self, relative: str) -> Response | None:
        index = self.root / "index.html"
        if not await anyio.Path(index).is_file():
            page = _NOT_BUILT.format(directory=self.root)
            return HTMLResponse(page, 503, headers=security_headers())
        found = self._file(relative)
        if found is not None and found != index:
            cache = IMMUTABLE if relative.startswith("assets/") else "no-cache"
            return FileResponse(found, headers={**security_headers(), "Cache-Control": cache})
        if relative.startswith("assets/"):
            return None
        nonce = secrets.token_urlsafe(16)
        html = (await anyio.Path(index).read_text()).replace(NONCE_PLACEHOLDER, nonce)
        return HTMLResponse(html, headers={**security_headers(nonce), "Cache-Control": "no-cache"})

    def _file(self, relative: str) -> Path | None:
        """The build's file at `relative`, or None (missing, a folder, or outside the build)."""
        if not relative:
            return None
        try:
            candidate = (self.root / relative).resolve()
            if candidate.is_relative_to(self.root) and candidate.is_file():
                return candidate
        except (OSError, ValueError):  # a name too long for the file system, ...
            return None
        return None


def install(app: FastAPI, directory: Path) -> None:
    """Serve the console built in `directory` for every path no route of `app` claims."""
    app.router.default = ConsoleFiles(directory, app.router.default)
