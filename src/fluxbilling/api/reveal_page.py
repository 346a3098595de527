"""The pages of a one-time password reveal link: small, self-contained HTML, locked down.

Three pages, each a complete document with its one inline style and nothing else to load:

```
ask       GET  /reveal/<token>   a live link: a button that POSTs (nothing is spent yet)
shown     POST /reveal/<token>   the password, this once
gone      both                   unknown, used, revoked or expired: one neutral page, 404
refused   POST                   not posted from the page itself (cross-site): 403, nothing spent
```

Every page is sent with `HEADERS`: never stored (`no-store`), no referrer (the URL holds the
token), no framing, not indexed, and a Content-Security-Policy that allows nothing but the
page's own style (by hash) and a form posting back to this origin.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["HEADERS", "Page", "ask", "gone", "refused", "shown"]

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;"
    "color:#1f2933}h1{font-size:1.4rem}button{font:inherit;padding:.6rem 1.2rem;"
    "border:0;border-radius:.3rem;background:#1f6feb;color:#fff;cursor:pointer}"
    "code{display:block;font-size:1.3rem;padding:.8rem;margin:1rem 0;background:#f0f3f6;"
    "border-radius:.3rem;user-select:all;word-break:break-all}.note{color:#52606d}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
"""The security headers of every reveal page."""


@dataclass(frozen=True, slots=True)
class Page:
    """A page to answer: its status and HTML (send it with `HEADERS`)."""

    status: int
    html: str


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def ask() -> Page:
    """A live link: the button that reveals the password (posting back to the same URL)."""
    return Page(
        200,
        _document(
            "Your server's password",
            "<p>This link shows your password <strong>once</strong>. Have a safe place ready "
            "to keep it (a password manager), then press the button.</p>"
            '<form method="post"><button type="submit">Show my password</button></form>'
            '<p class="note">Nothing is shown until you press the button.</p>',
        ),
    )


def shown(password: str) -> Page:
    """The password, this once."""
    return Page(
        200,
        _document(
            "Your server's password",
            f"<code>{html.escape(password)}</code>"
            "<p>Copy it now: this link will not show it again. Please change the password "
            "after your first login.</p>",
        ),
    )


def gone() -> Page:
    """The one answer for a link that is unknown, used, revoked or expired."""
    return Page(
        404,
        _document(
            "This link does not work",
            "<p>A password link works once and only for a limited time. If you still need "
            "your password, ask our support team to reset it.</p>",
        ),
    )


def refused() -> Page:
    """A POST that did not come from the link's own page (nothing was spent)."""
    return Page(
        403,
        _document(
            "Open the link itself",
            "<p>Please open the link from your mail in your browser and press the button "
            "there.</p>",
        ),
    )
