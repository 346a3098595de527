"""Signing in and out of the console, who am I, and changing one's own password.

`POST /api/v1/auth/login` answers the user and the session's CSRF token, and sets two
cookies (both `SameSite=Strict`, `Path=/`, lasting at most the session's lifetime):

```
fluxbilling_session   the session id; HttpOnly (no script reads it)
fluxbilling_csrf      the CSRF token; readable by the console's script, which sends it back
                      as X-CSRF-Token on every POST, PUT, PATCH and DELETE
```

Both are `Secure` (sent over HTTPS only) unless the request came to a loopback host
(`localhost`, `127.0.0.1`, `::1`): the embedded demo serves plain HTTP on loopback, and
anything else is expected behind TLS. Behind a reverse proxy that terminates TLS, keep the
public host name in the `Host` header.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from fluxbilling.accounts.service import Accounts
from fluxbilling.accounts.sessions import NewSession
from fluxbilling.accounts.users import MAX_PASSWORD
from fluxbilling.api.auth import CSRF_COOKIE, SESSION_COOKIE, Viewer, current_session
from fluxbilling.api.fields import ONE_LINE, RequestBody, Secret
from fluxbilling.api.rows import Row
from fluxbilling.config import Settings

__all__ = ["MeOut", "client_address", "is_loopback", "router"]

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

Password = Annotated[Secret, Field(max_length=MAX_PASSWORD)]


class LoginIn(RequestBody):
    """A username and password."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=64), ONE_LINE]
    password: Password


class MeOut(Row):
    """The signed-in principal (`id` is null for the installation's API token)."""

    id: int | None
    username: str
    role: str = Field(description="viewer, operator or admin")


class LoginOut(Row):
    """The signed-in user, and the CSRF token to send as X-CSRF-Token with every change."""

    user: MeOut
    csrf_token: str


class PasswordIn(RequestBody):
    """The current password and the new one."""

    current_password: Password
    new_password: Password = Field(description="at least 12 characters")


class PasswordChangedOut(Row):
    """Every session of the user ended; a session cookie caller got a new one."""

    csrf_token: str | None = Field(
        description="the new session's CSRF token (null when signed in by token)"
    )


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (cookies without `Secure` are allowed there).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("billing.example")
    (True, True, False)
    """
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address(request: Request) -> str:
    """The caller's address, as the server saw it (the login rate limit counts by it)."""
    return request.client.host if request.client else "unknown"


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.installation.accounts
    return accounts


def _set_cookies(request: Request, response: Response, session: NewSession) -> None:
    settings: Settings = request.app.state.installation.settings
    secure = not is_loopback(request.url.hostname)
    for name, value, http_only in (
        (SESSION_COOKIE, session.session_id, True),
        (CSRF_COOKIE, session.csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=settings.session_lifetime,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )


def _clear_cookies(request: Request, response: Response) -> None:
    secure = not is_loopback(request.url.hostname)
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")


@router.post(
    "/login",
    summary="Sign in with a username and password: sets the session and CSRF cookies",
    responses={
        401: {"description": "wrong username or password (one answer for both)"},
        429: {
            "description": "too many failed logins for this username or from this address; "
            "try again after `Retry-After` seconds",
            "headers": {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            },
        },
    },
)
async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    """Failed logins are counted per username and per client address (429 past the limit)."""
    signed_in = await _accounts(request).login(
        body.username, body.password.get_secret_value(), client_address(request)
    )
    _set_cookies(request, response, signed_in.session)
    user = signed_in.user
    return LoginOut(
        user=MeOut(id=user.id, username=user.username, role=user.role),
        csrf_token=signed_in.session.csrf_token,
    )


@router.post("/logout", status_code=204, summary="End this session and clear its cookies")
async def logout(who: Viewer, request: Request, response: Response) -> None:
    """With a bearer token there is no session to end: the answer is 204 all the same."""
    session = current_session(request)
    if session is not None:
        await _accounts(request).logout(who, session.session_row_id)
    _clear_cookies(request, response)


@router.get("/me", summary="Who is signed in")
async def me(who: Viewer) -> MeOut:
    """The user of the session or token; the installation token answers with a null id."""
    return MeOut(id=who.user_id, username=who.name, role=who.role)


@router.post(
    "/password",
    summary="Change one's own password (needs the current one); ends every session",
    responses={
        409: {"description": "the installation token has no password"},
        429: {"description": "too many wrong passwords; try again after `Retry-After` seconds"},
    },
)
async def change_password(
    body: PasswordIn, who: Viewer, request: Request, response: Response
) -> PasswordChangedOut:
    """422 when the current password is wrong (counted like a failed login) or the new one is
    too short. A caller signed in by cookie gets a new session in the answer's cookies."""
    by_cookie = current_session(request) is not None
    session = await _accounts(request).change_password(
        who,
        current=body.current_password.get_secret_value(),
        new=body.new_password.get_secret_value(),
        client=client_address(request),
        keep_session=by_cookie,
    )
    if session is not None:
        _set_cookies(request, response, session)
    return PasswordChangedOut(csrf_token=session.csrf_token if session else None)
