"""Who is calling, and may they: authentication and role checks for every `/api/v1` route.

Three credentials are known, tried in this order:

```
Authorization: Bearer <installation token>   acts as an admin (accounts.INSTALLATION_TOKEN)
Authorization: Bearer fbt_...                a personal API token: its user, their role
Cookie: fluxbilling_session=...              a console session: its user, their role;
                                             POST/PUT/PATCH/DELETE also need the header
                                             X-CSRF-Token equal to the session's CSRF token
```

A bearer credential is never sent by a browser on its own, so it needs no CSRF token; a
cookie is, so a request it authenticates that changes something must prove it was written
by our console (the CSRF token is readable only by pages of our own origin). Tokens and
the CSRF token are compared by digest, in constant time.

Routes never check credentials themselves: they declare the role they need with one of
the annotated parameters below and receive the `Principal`, whose name is the actor of the
audit and activity rows they write.

```python
@router.post("/locations")
async def create_location(body: LocationIn, who: Admin) -> LocationOut: ...
```

The dependencies are FastAPI security schemes (`HTTPBearer`, `SessionCookie`), so the
OpenAPI document names the routes that need a credential, and `required_role` tells which
role a route needs (the document's `x-required-role`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from fluxbilling.accounts import credentials, roles
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.accounts.service import Accounts, SessionAuth

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "Admin",
    "Operator",
    "Viewer",
    "authenticate",
    "current_session",
    "require_token",
    "required_role",
    "requires",
]

SESSION_COOKIE = "fluxbilling_session"
"""The cookie holding a console session's id."""
CSRF_COOKIE = "fluxbilling_csrf"
"""The cookie holding the session's CSRF token, for the console's script to read."""
CSRF_HEADER = "X-CSRF-Token"
"""The header that must repeat the CSRF token on a cookie-authenticated change."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, so need no CSRF token."""

_bearer = HTTPBearer(
    auto_error=False,
    description="the installation's API token, or a personal API token (`fbt_...`)",
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="SessionCookie",
    auto_error=False,
    description="a console session (POST /api/v1/auth/login); POST, PUT, PATCH and DELETE "
    f"also need the header `{CSRF_HEADER}` with the session's CSRF token",
)


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="missing or invalid credentials (API token, personal token or session)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_session(request: Request) -> SessionAuth | None:
    """The session that authenticated this request, when it was a session cookie."""
    session: SessionAuth | None = getattr(request.state, "session", None)
    return session


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_id: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """FastAPI dependency: the caller's principal; 401 without a valid credential, 403 when
    a session cookie changes something without the right CSRF token."""
    installation = request.app.state.installation
    accounts: Accounts = installation.accounts
    if bearer is not None:
        token = bearer.credentials
        expected: str = installation.api_token
        if token and hmac.compare_digest(token.encode(), expected.encode()):
            return roles.INSTALLATION_TOKEN
        principal = await accounts.by_token(token)
        if principal is None:
            raise _unauthenticated()
        return principal
    if not session_id:
        raise _unauthenticated()
    session = await accounts.by_session(session_id)
    if session is None:
        raise _unauthenticated()
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not credentials.matches(sent, session.csrf_hash):
            raise HTTPException(
                status_code=403,
                detail=f"a change made with a session cookie needs the {CSRF_HEADER} header "
                "with the session's CSRF token",
            )
    request.state.session = session
    return session.principal


_ROLE_OF: dict[Callable[..., Principal], Role] = {}


def requires(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that passes the principal on when its role includes `role`, else 403."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(role):
            raise HTTPException(status_code=403, detail=f"this needs the {role} role")
        return principal

    check.__name__ = f"requires_{role}"
    _ROLE_OF[check] = role
    return check


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def required_role(dependant: Dependant) -> Role | None:
    """The highest role a route's dependencies require (None: the route is public).

    Args:
        dependant: the route's `dependant` (FastAPI's tree of its dependencies).
    """
    found = [_ROLE_OF[call] for call in _calls(dependant) if call in _ROLE_OF]
    return max(found, key=lambda role: role.rank) if found else None


_viewer = requires(Role.VIEWER)
_operator = requires(Role.OPERATOR)
_admin = requires(Role.ADMIN)

Viewer = Annotated[Principal, Depends(_viewer)]
"""Any signed-in principal: reads."""
Operator = Annotated[Principal, Depends(_operator)]
"""Operators and admins: orders, runs, service actions, deliveries, checkout."""
Admin = Annotated[Principal, Depends(_admin)]
"""Admins only: catalogue, connections, plugins, users and tokens."""

require_token = _viewer
"""Router-level dependency: any valid credential (routes narrow it with Operator/Admin)."""
