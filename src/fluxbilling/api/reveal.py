"""Revealing a service's root password: to an operator (`/api/v1`), and through a mailed link.

```
POST /api/v1/services/{id}/password/reveal   operators and admins; audited; never cached
GET  /reveal/{token}                         public: a page with a button (spends nothing)
POST /reveal/{token}                         public: the password once (spends the link)
```

The operator route is a POST, not a GET, so nothing caches or prefetches it, and (with cookie
sessions) it needs the CSRF token like every other change. The link pages are HTML for the
customer's browser, outside the API's description (`include_in_schema=False`): a GET never
spends a link (mail scanners and link previews fetch what a mail links to); only the page's
own button does, and a POST is taken only from the page itself: `Sec-Fetch-Site:
same-origin`, or an `Origin` that is this installation's. (The page sends no referrer, and
browsers then send `Origin: null` with a form post; `Sec-Fetch-Site` still says where it came
from.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from fluxbilling.api import reveal_page
from fluxbilling.api.auth import Operator
from fluxbilling.api.fields import RowId
from fluxbilling.api.rows import Row
from fluxbilling.handoff import reveal

__all__ = ["RevealedPasswordOut", "public", "router"]

router = APIRouter(prefix="/api/v1", tags=["services"])
public = APIRouter(tags=["services"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RevealedPasswordOut(Row):
    """A service's current root password, answered to one request and never cached."""

    service_id: int
    password: str = Field(description="the current root password: keep it out of logs")


@router.post(
    "/services/{service_id}/password/reveal",
    summary="Reveal a service's current root password (audited)",
    responses={
        200: {
            "description": "the password, sent with `Cache-Control: no-store`",
            "headers": {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}},
        },
        403: {"description": "the caller's role may not see passwords (operators and admins)"},
        409: {
            "description": "the service has no password kept by us (its panel manages it, or "
            "provisioning has not made one yet), or it is terminated"
        },
    },
)
async def reveal_password(
    request: Request, response: Response, service_id: RowId, who: Operator
) -> RevealedPasswordOut:
    """The current root password, once per request: an audit row names the caller, and the
    order's activity says who saw it (neither holds the password)."""
    installation = request.app.state.installation
    revealed = await reveal.reveal_to_operator(
        installation.db, installation.vault, service_id, who.name
    )
    response.headers.update(_NO_STORE)
    return RevealedPasswordOut(service_id=revealed.service_id, password=revealed.password)


def _answer(page: reveal_page.Page) -> HTMLResponse:
    return HTMLResponse(page.html, page.status, headers=dict(reveal_page.HEADERS))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _from_the_page(request: Request) -> bool:
    """Whether a POST came from our own page (see the module docstring)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin", "").lower()
    ours = {_origin(request.app.state.installation.settings.public_url), _origin(str(request.url))}
    return origin in ours


@public.get("/reveal/{token:path}", response_class=HTMLResponse, include_in_schema=False)
async def reveal_link_page(request: Request, token: str) -> HTMLResponse:
    """The page of a live link (a button), or the neutral page; nothing is spent."""
    live = await reveal.link_is_live(request.app.state.installation.db, token)
    return _answer(reveal_page.ask() if live else reveal_page.gone())


@public.post("/reveal/{token:path}", response_class=HTMLResponse, include_in_schema=False)
async def reveal_link_password(request: Request, token: str) -> HTMLResponse:
    """Spend the link and show the password once, or the neutral page."""
    if not _from_the_page(request):
        return _answer(reveal_page.refused())
    installation = request.app.state.installation
    revealed = await reveal.redeem_link(installation.db, installation.vault, token)
    if revealed is None:
        return _answer(reveal_page.gone())
    return _answer(reveal_page.shown(revealed.password))
