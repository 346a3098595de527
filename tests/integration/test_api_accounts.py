"""Operator accounts through the HTTP API: sign-in, cookies, CSRF, session expiry, the login
rate limit, personal tokens, user management and its audit rows; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.accounts import Accounts, Role
from fluxbilling.api import create_app
from fluxbilling.db import Database
from tests.httpsupport import asgi_client
from tests.integration.accounts import CHEAP_HASHING, Account, Clock, audit_rows, make_user
from tests.integration.conftest import API_TOKEN

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

LIMITS = {"login_failures_per_user": 3, "login_failures_per_client": 6, "login_window": 900}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**CHEAP_HASHING, **LIMITS}


@pytest.fixture
def clock(installation: bootstrap.Installation) -> Clock:
    clock = Clock()
    installation.accounts.clock = clock
    return clock


@pytest.fixture
async def console(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the console at a loopback address: it keeps and sends cookies."""
    async with asgi_client(create_app(installation), "http://127.0.0.1:8080") as client:
        yield client


@pytest.fixture
async def ann(installation: bootstrap.Installation) -> Account:
    return await make_user(installation, "ann", Role.OPERATOR)


def _client(installation: bootstrap.Installation, base_url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(installation), client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def _me_by_cookie(installation: bootstrap.Installation, session: str) -> int:
    """The status of GET /api/v1/auth/me from a fresh browser holding only `session`."""
    async with asgi_client(create_app(installation), "http://127.0.0.1:8080") as client:
        response = await client.get(
            "/api/v1/auth/me", headers={"Cookie": f"fluxbilling_session={session}"}
        )
    return response.status_code


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


async def test_login_answers_the_user_and_csrf_token_and_sets_both_cookies(
    console: httpx.AsyncClient, ann: Account
) -> None:
    response = await _login(console, "ann", ann.password)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"id": ann.id, "username": "ann", "role": "operator"}
    cookies = _cookies(response)
    session, csrf = cookies["fluxbilling_session"], cookies["fluxbilling_csrf"]
    for header in (session, csrf):
        assert "SameSite=strict" in header
        assert "Path=/" in header
        assert "Secure" not in header  # loopback
    assert "HttpOnly" in session
    assert "HttpOnly" not in csrf
    assert f"fluxbilling_csrf={body['csrf_token']};" in csrf
    me = await console.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json() == {"id": ann.id, "username": "ann", "role": "operator"}


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("http://127.0.0.1:8080", False),
        ("http://localhost:8080", False),
        ("http://[::1]:8080", False),
        ("https://billing.example.com", True),
        ("http://10.0.0.5:8080", True),
    ],
)
async def test_cookies_are_secure_unless_the_host_is_loopback(
    installation: bootstrap.Installation, ann: Account, base_url: str, secure: bool
) -> None:
    async with asgi_client(create_app(installation), base_url) as client:
        response = await _login(client, "ann", ann.password)
    assert response.status_code == 200
    for header in _cookies(response).values():
        assert ("; Secure" in header) is secure, header


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account
) -> None:
    wrong = await _login(console, "ann", "not the password")
    unknown = await _login(console, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "fluxbilling_session" not in _cookies(wrong)
    failed = await audit_rows(installation, "user.login_failed")
    assert [row.changes["username"] for row in failed] == ["ann", "nobody"]
    assert [row.entity_id for row in failed] == [str(ann.id), None]
    assert "not the password" not in json.dumps([row.changes for row in failed])


async def test_usernames_are_matched_without_case(console: httpx.AsyncClient, ann: Account) -> None:
    assert (await _login(console, " Ann", ann.password)).status_code == 200


async def test_changes_by_cookie_need_the_csrf_token_reads_do_not(
    console: httpx.AsyncClient, ann: Account
) -> None:
    csrf = (await _login(console, "ann", ann.password)).json()["csrf_token"]
    assert (await console.get("/api/v1/auth/tokens")).status_code == 200
    body = {"name": "ci"}
    missing = await console.post("/api/v1/auth/tokens", json=body)
    assert missing.status_code == 403
    assert "X-CSRF-Token" in missing.json()["error"]["message"]
    wrong = await console.post(
        "/api/v1/auth/tokens", json=body, headers={"X-CSRF-Token": csrf[:-1] + "x"}
    )
    assert wrong.status_code == 403
    other_cookie = await console.post(
        "/api/v1/auth/tokens",
        json=body,
        headers={"X-CSRF-Token": console.cookies["fluxbilling_session"]},
    )
    assert other_cookie.status_code == 403
    right = await console.post("/api/v1/auth/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 201


async def test_a_bearer_token_needs_no_csrf_token(
    installation: bootstrap.Installation, ann: Account
) -> None:
    async with asgi_client(create_app(installation), "http://api.test", headers=ann.bearer) as c:
        response = await c.post("/api/v1/auth/tokens", json={"name": "more"})
    assert response.status_code == 201


async def test_logout_ends_the_session_and_clears_the_cookies(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account
) -> None:
    csrf = (await _login(console, "ann", ann.password)).json()["csrf_token"]
    session = console.cookies["fluxbilling_session"]
    assert (await console.post("/api/v1/auth/logout")).status_code == 403  # CSRF
    response = await console.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    for header in _cookies(response).values():
        assert "Max-Age=0" in header
    assert "fluxbilling_session" not in console.cookies
    assert await _me_by_cookie(installation, session) == 401
    assert [row.actor for row in await audit_rows(installation, "user.logout")] == ["ann"]


async def test_a_session_ends_when_idle_and_at_its_lifetime(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account, clock: Clock
) -> None:
    assert (await _login(console, "ann", ann.password)).status_code == 200
    clock.advance(minutes=29)
    assert (await console.get("/api/v1/auth/me")).status_code == 200  # and seen now
    clock.advance(minutes=29)
    assert (await console.get("/api/v1/auth/me")).status_code == 200
    clock.advance(minutes=30)
    assert (await console.get("/api/v1/auth/me")).status_code == 401  # idle

    assert (await _login(console, "ann", ann.password)).status_code == 200
    lifetime = installation.settings.session_lifetime
    for _ in range(lifetime // 1200 - 1):
        clock.advance(minutes=20)
        assert (await console.get("/api/v1/auth/me")).status_code == 200
    clock.advance(minutes=20)
    assert (await console.get("/api/v1/auth/me")).status_code == 401  # past its lifetime


async def test_failed_logins_for_a_username_are_limited_with_retry_after(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account, clock: Clock
) -> None:
    for _ in range(3):
        assert (await _login(console, "ann", "wrong password")).status_code == 401
        clock.advance(minutes=1)
    limited = await _login(console, "ann", ann.password)  # even the right one, now
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == str(15 * 60 - 3 * 60)
    assert limited.json()["error"]["code"] == "TooManyAttempts"
    clock.advance(seconds=int(limited.headers["Retry-After"]))
    assert (await _login(console, "ann", ann.password)).status_code == 200
    # A success clears the username's count: three more failures before the next 429.
    for _ in range(3):
        assert (await _login(console, "ann", "wrong password")).status_code == 401
    assert (await _login(console, "ann", "wrong password")).status_code == 429


async def test_failed_logins_from_one_address_are_limited_across_usernames(
    installation: bootstrap.Installation, ann: Account, clock: Clock
) -> None:
    async with _client(installation, "http://127.0.0.1", "192.0.2.7") as guesser:
        for n in range(6):
            assert (await _login(guesser, f"user{n}", "guess")).status_code == 401
        assert (await _login(guesser, "ann", ann.password)).status_code == 429
    async with _client(installation, "http://127.0.0.1", "192.0.2.8") as other:
        assert (await _login(other, "ann", ann.password)).status_code == 200


async def test_the_limit_is_shared_by_every_process_through_the_database(
    installation: bootstrap.Installation, database_url: str, ann: Account, clock: Clock
) -> None:
    """A second API process (its own Accounts and connection pool) sees the failures."""
    ours = installation.accounts
    other_db = Database(database_url)
    try:
        other = Accounts(other_db, ours.passwords, ours.session_policy, ours.login_policy, clock)
        for _ in range(3):
            with pytest.raises(Exception, match="wrong username or password"):
                await ours.login("ann", "wrong password", "192.0.2.9")
        with pytest.raises(Exception, match="too many failed logins") as refused:
            await other.login("ann", ann.password, "192.0.2.10")
        assert refused.value.retry_after == 900  # type: ignore[attr-defined]
    finally:
        await other_db.dispose()


async def test_personal_tokens_act_as_their_user_until_revoked(
    installation: bootstrap.Installation, ann: Account
) -> None:
    async with asgi_client(create_app(installation), "http://api.test") as client:
        me = await client.get("/api/v1/auth/me", headers=ann.bearer)
        assert me.json() == {"id": ann.id, "username": "ann", "role": "operator"}
        created = await client.post(
            "/api/v1/auth/tokens", json={"name": "deploy bot"}, headers=ann.bearer
        )
        assert created.status_code == 201
        token = created.json()["token"]
        assert token.startswith("fbt_")
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
        listed = (await client.get("/api/v1/auth/tokens", headers=headers)).json()["items"]
        assert [t["name"] for t in listed] == ["deploy bot", "tests"]
        assert token not in json.dumps(listed)
        assert listed[0]["prefix"] == token[:10]
        assert listed[0]["last_used_at"] is not None
        revoked = await client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}", headers=ann.bearer)
        assert revoked.status_code == 204
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
        assert (await client.get("/api/v1/auth/me", headers=ann.bearer)).status_code == 200
        again = await client.get("/api/v1/auth/tokens", headers=ann.bearer)
        assert again.json()["items"][0]["revoked_at"] is not None
        bogus = {"Authorization": "Bearer fbt_" + "x" * 43}
        assert (await client.get("/api/v1/auth/me", headers=bogus)).status_code == 401
    actions = [row.action for row in await audit_rows(installation)]
    assert actions.count("api_token.create") == 2 and "api_token.revoke" in actions
    assert token not in json.dumps([row.changes for row in await audit_rows(installation)])


async def test_an_expiring_token_stops_at_its_expiry(
    installation: bootstrap.Installation, api: httpx.AsyncClient, ann: Account, clock: Clock
) -> None:
    created = await api.post(
        f"/api/v1/users/{ann.id}/tokens", json={"name": "week", "expires_in_days": 7}
    )
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    clock.advance(days=7, seconds=-1)
    assert (await api.get("/api/v1/auth/me", headers=headers)).status_code == 200
    clock.advance(seconds=1)
    assert (await api.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_another_users_token_cannot_be_revoked_as_ones_own(
    installation: bootstrap.Installation, api: httpx.AsyncClient, ann: Account
) -> None:
    bob = await make_user(installation, "bob", Role.VIEWER)
    bobs = (await api.get(f"/api/v1/users/{bob.id}/tokens")).json()["items"]
    response = await api.delete(f"/api/v1/auth/tokens/{bobs[0]['id']}", headers=ann.bearer)
    assert response.status_code == 404
    assert (await api.get("/api/v1/auth/me", headers=bob.bearer)).status_code == 200


async def test_the_installation_token_has_no_own_tokens_or_password(
    api: httpx.AsyncClient,
) -> None:
    me = await api.get("/api/v1/auth/me")
    assert me.json() == {"id": None, "username": "installation-token", "role": "admin"}
    assert (await api.get("/api/v1/auth/tokens")).status_code == 409
    assert (await api.post("/api/v1/auth/tokens", json={"name": "x"})).status_code == 409
    password = {"current_password": API_TOKEN, "new_password": "a new password!"}
    assert (await api.post("/api/v1/auth/password", json=password)).status_code == 409


async def test_an_admin_creates_a_user_with_a_generated_password_shown_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, console: httpx.AsyncClient
) -> None:
    created = await api.post("/api/v1/users", json={"username": "cleo", "role": "viewer"})
    assert created.status_code == 201, created.text
    body = created.json()
    password = body["password"]
    assert len(password) == 24
    assert body["user"]["username"] == "cleo" and body["user"]["role"] == "viewer"
    assert (await _login(console, "cleo", password)).status_code == 200
    shown = await api.get(f"/api/v1/users/{body['user']['id']}")
    assert "password" not in shown.json()
    listed = (await api.get("/api/v1/users")).json()["items"]
    assert [u["username"] for u in listed] == ["cleo"]
    (row,) = await audit_rows(installation, "user.create")
    assert row.actor == "installation-token"
    assert password not in json.dumps(row.changes)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "Upper", "role": "viewer"}, 422),
        ({"username": "installation-token", "role": "admin"}, 422),
        ({"username": "dan", "role": "root"}, 422),
        ({"username": "dan", "role": "viewer", "password": "short"}, 422),
        ({"username": "dan", "role": "viewer", "password": "long enough\nbut two lines"}, 422),
        ({"username": "dan\x00", "role": "viewer"}, 422),
        ({"username": "dan", "role": "viewer", "extra": 1}, 422),
    ],
)
async def test_bad_users_are_refused_with_the_reason(
    api: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    response = await api.post("/api/v1/users", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["details"]["problems"]
    assert (await api.get("/api/v1/users")).json()["items"] == []


async def test_a_taken_username_is_a_conflict(api: httpx.AsyncClient, ann: Account) -> None:
    response = await api.post("/api/v1/users", json={"username": "ann", "role": "viewer"})
    assert response.status_code == 409


async def test_a_role_change_or_disable_ends_the_sessions_and_disable_stops_tokens(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    console: httpx.AsyncClient,
    ann: Account,
) -> None:
    assert (await _login(console, "ann", ann.password)).status_code == 200
    changed = await api.patch(f"/api/v1/users/{ann.id}", json={"role": "viewer"})
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    assert (await console.get("/api/v1/auth/me")).status_code == 401
    me = await api.get("/api/v1/auth/me", headers=ann.bearer)
    assert me.json()["role"] == "viewer"  # a token carries the current role

    assert (await _login(console, "ann", ann.password)).status_code == 200
    disabled = await api.patch(f"/api/v1/users/{ann.id}", json={"disabled": True})
    assert disabled.json()["disabled"] is True
    assert (await console.get("/api/v1/auth/me")).status_code == 401
    assert (await api.get("/api/v1/auth/me", headers=ann.bearer)).status_code == 401
    assert (await _login(console, "ann", ann.password)).status_code == 401
    (role_row, disable_row) = await audit_rows(installation, "user.update")
    assert role_row.changes["role"] == {"from": "operator", "to": "viewer"}
    assert role_row.changes["sessions_revoked"] == 1
    assert disable_row.changes["disabled"] == {"from": False, "to": True}


async def test_the_last_enabled_admin_stays(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    root = await make_user(installation, "root", Role.ADMIN)
    for change in ({"role": "operator"}, {"disabled": True}):
        response = await api.patch(f"/api/v1/users/{root.id}", json=change)
        assert response.status_code == 409, response.text
    other = await make_user(installation, "root2", Role.ADMIN)
    assert (await api.patch(f"/api/v1/users/{root.id}", json={"disabled": True})).status_code == 200
    assert (
        await api.patch(f"/api/v1/users/{other.id}", json={"role": "viewer"})
    ).status_code == 409


async def test_a_reset_password_replaces_the_old_one_and_ends_sessions(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    console: httpx.AsyncClient,
    ann: Account,
) -> None:
    assert (await _login(console, "ann", ann.password)).status_code == 200
    reset = await api.post(f"/api/v1/users/{ann.id}/password")
    assert reset.status_code == 200
    new = reset.json()["password"]
    assert new != ann.password
    assert (await console.get("/api/v1/auth/me")).status_code == 401
    assert (await _login(console, "ann", ann.password)).status_code == 401
    assert (await _login(console, "ann", new)).status_code == 200
    (row,) = await audit_rows(installation, "user.password_reset")
    assert new not in json.dumps(row.changes)
    assert (await api.post("/api/v1/users/999999/password")).status_code == 404


async def test_changing_ones_password_needs_the_current_one_and_renews_the_session(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account
) -> None:
    csrf = (await _login(console, "ann", ann.password)).json()["csrf_token"]
    old_session = console.cookies["fluxbilling_session"]
    headers = {"X-CSRF-Token": csrf}
    wrong = await console.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new password"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"]["problems"][0]["path"] == "current_password"
    changed = await console.post(
        "/api/v1/auth/password",
        json={"current_password": ann.password, "new_password": "a brand new password"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    new_csrf = changed.json()["csrf_token"]
    assert new_csrf and new_csrf != csrf
    assert console.cookies["fluxbilling_session"] != old_session
    assert (await console.get("/api/v1/auth/me")).status_code == 200
    assert await _me_by_cookie(installation, old_session) == 401
    assert (await _login(console, "ann", "a brand new password")).status_code == 200
    (row,) = await audit_rows(installation, "user.password_change")
    assert row.actor == "ann"


async def test_successful_logins_are_audited_with_the_user(
    installation: bootstrap.Installation, console: httpx.AsyncClient, ann: Account
) -> None:
    assert (await _login(console, "ann", ann.password)).status_code == 200
    (row,) = await audit_rows(installation, "user.login")
    assert (row.actor, row.entity, row.entity_id) == ("ann", "user", str(ann.id))
    assert ann.password not in json.dumps(row.changes)


async def test_a_users_last_sign_in_is_listed_from_the_audit_log(
    api: httpx.AsyncClient, console: httpx.AsyncClient, ann: Account
) -> None:
    never = await api.post("/api/v1/users", json={"username": "bob", "role": "viewer"})
    assert never.json()["user"]["last_login_at"] is None
    assert (await api.get(f"/api/v1/users/{ann.id}")).json()["last_login_at"] is None
    assert (await _login(console, "ann", ann.password)).status_code == 200
    assert (await _login(console, "ann", "a wrong password")).status_code == 401
    listed = {u["username"]: u for u in (await api.get("/api/v1/users")).json()["items"]}
    assert listed["bob"]["last_login_at"] is None
    signed_in = listed["ann"]["last_login_at"]
    assert signed_in is not None
    assert (await api.get(f"/api/v1/users/{ann.id}")).json()["last_login_at"] == signed_in
