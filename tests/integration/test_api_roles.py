"""Roles on every route, checked over HTTP for every operation the app serves.

The operations come from the app itself (`app.routes`), and each must be in `EXPECTED`, the
declared policy: a new route that is not there fails the test until someone decides who may
call it. For each operation: no credential is 401 (unless public), a viewer on a route that
needs more is 403, and a principal holding exactly the role is neither 401 nor 403. The
OpenAPI document's `x-required-role` says the same.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from fluxbilling import bootstrap
from fluxbilling.accounts import Role
from fluxbilling.api import create_app
from tests.httpsupport import asgi_client
from tests.integration.accounts import CHEAP_HASHING, Account, make_user

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PUBLIC = "public"
V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN

EXPECTED: dict[tuple[str, str], Role | str] = {
    # Public: documents, webhooks from gateways, the customer's return page, signing in.
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("POST", "/webhooks/{gateway}"): PUBLIC,
    ("GET", "/checkout/{invoice_id}/return"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    # A customer's one-time password link: the token is the credential.
    ("GET", "/reveal/{token}"): PUBLIC,
    ("POST", "/reveal/{token}"): PUBLIC,  # from its own page: see SAME_ORIGIN
    # Anyone signed in: reads, and their own session, password and tokens.
    ("GET", "/metrics"): V,
    ("POST", "/api/v1/auth/logout"): V,
    ("GET", "/api/v1/auth/me"): V,
    ("POST", "/api/v1/auth/password"): V,
    ("GET", "/api/v1/auth/tokens"): V,
    ("POST", "/api/v1/auth/tokens"): V,
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): V,
    ("GET", "/api/v1/webhook-deliveries"): V,
    ("GET", "/api/v1/webhook-deliveries/{delivery_id}"): V,
    ("GET", "/api/v1/holds"): V,
    ("GET", "/api/v1/invoices/{invoice_id}"): V,
    ("GET", "/api/v1/gateways"): V,
    ("GET", "/api/v1/orders/{order_id}"): V,
    ("GET", "/api/v1/runs"): V,
    ("GET", "/api/v1/switch-port-jobs"): V,
    ("GET", "/api/v1/plugins"): V,
    ("GET", "/api/v1/plugins/schema"): V,
    ("GET", "/api/v1/plugins/{slug}/versions"): V,
    ("GET", "/api/v1/plugins/{slug}/versions/{version}"): V,
    ("GET", "/api/v1/plugins/{slug}/diff"): V,
    ("GET", "/api/v1/connections"): V,
    ("GET", "/api/v1/connections/{name}"): V,
    ("GET", "/api/v1/connection-types"): V,
    ("GET", "/api/v1/services"): V,
    ("GET", "/api/v1/services/{service_id}"): V,
    ("GET", "/api/v1/services/{service_id}/actions"): V,
    ("GET", "/api/v1/actions/{action_id}"): V,
    ("GET", "/api/v1/runs/{run_id}/flow-context"): V,
    ("GET", "/api/v1/orders"): V,
    ("GET", "/api/v1/dashboard"): V,
    ("GET", "/api/v1/events"): V,
    # Operators: orders, runs, service actions, deliveries, checkout and reconciling.
    ("POST", "/api/v1/webhook-deliveries/{delivery_id}/release"): OP,
    ("DELETE", "/api/v1/holds/{hold_id}"): OP,
    ("POST", "/api/v1/invoices/{invoice_id}/checkout"): OP,
    ("POST", "/api/v1/invoices/{invoice_id}/sync"): OP,
    ("POST", "/api/v1/reconciler/run"): OP,
    ("POST", "/api/v1/orders"): OP,
    ("POST", "/api/v1/runs/{run_id}/retry"): OP,
    ("POST", "/api/v1/runs/{run_id}/cancel"): OP,
    ("POST", "/api/v1/orders/{order_id}/retry"): OP,
    ("POST", "/api/v1/orders/{order_id}/cancel"): OP,
    ("POST", "/api/v1/orders/{order_id}/reallocate"): OP,
    ("POST", "/api/v1/services/{service_id}/actions/{verb}"): OP,
    ("POST", "/api/v1/services/{service_id}/password/reveal"): OP,
    ("POST", "/api/v1/plugins/test-runs"): OP,
    ("POST", "/api/v1/plugins/test-runs/resume"): OP,
    ("POST", "/api/v1/plugins/validate"): OP,  # changes nothing; saving stays admin
    # Admins: plugins, connections, users and their tokens.
    ("POST", "/api/v1/plugins"): A,
    ("POST", "/api/v1/plugins/import"): A,
    ("POST", "/api/v1/connections"): A,
    ("PATCH", "/api/v1/connections/{name}"): A,
    ("DELETE", "/api/v1/connections/{name}"): A,
    ("POST", "/api/v1/connections/{name}/test"): A,
    ("GET", "/api/v1/users"): A,
    ("POST", "/api/v1/users"): A,
    ("GET", "/api/v1/users/{user_id}"): A,
    ("PATCH", "/api/v1/users/{user_id}"): A,
    ("POST", "/api/v1/users/{user_id}/password"): A,
    ("GET", "/api/v1/users/{user_id}/tokens"): A,
    ("POST", "/api/v1/users/{user_id}/tokens"): A,
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): A,
    # The catalogue: anyone reads; admins write, but customers, which operators write too.
    ("GET", "/api/v1/locations"): V,
    ("GET", "/api/v1/locations/{entry_id}"): V,
    ("POST", "/api/v1/locations"): A,
    ("PATCH", "/api/v1/locations/{entry_id}"): A,
    ("DELETE", "/api/v1/locations/{entry_id}"): A,
    ("GET", "/api/v1/subnets"): V,
    ("GET", "/api/v1/subnets/{entry_id}"): V,
    ("POST", "/api/v1/subnets"): A,
    ("PATCH", "/api/v1/subnets/{entry_id}"): A,
    ("DELETE", "/api/v1/subnets/{entry_id}"): A,
    ("GET", "/api/v1/racks"): V,
    ("GET", "/api/v1/racks/{entry_id}"): V,
    ("POST", "/api/v1/racks"): A,
    ("PATCH", "/api/v1/racks/{entry_id}"): A,
    ("DELETE", "/api/v1/racks/{entry_id}"): A,
    ("GET", "/api/v1/ports"): V,
    ("GET", "/api/v1/ports/{entry_id}"): V,
    ("POST", "/api/v1/ports"): A,
    ("PATCH", "/api/v1/ports/{entry_id}"): A,
    ("DELETE", "/api/v1/ports/{entry_id}"): A,
    ("GET", "/api/v1/cables"): V,
    ("GET", "/api/v1/cables/{entry_id}"): V,
    ("POST", "/api/v1/cables"): A,
    ("PATCH", "/api/v1/cables/{entry_id}"): A,
    ("DELETE", "/api/v1/cables/{entry_id}"): A,
    ("GET", "/api/v1/hosts"): V,
    ("GET", "/api/v1/hosts/{entry_id}"): V,
    ("POST", "/api/v1/hosts"): A,
    ("PATCH", "/api/v1/hosts/{entry_id}"): A,
    ("DELETE", "/api/v1/hosts/{entry_id}"): A,
    ("GET", "/api/v1/images"): V,
    ("GET", "/api/v1/images/{entry_id}"): V,
    ("POST", "/api/v1/images"): A,
    ("PATCH", "/api/v1/images/{entry_id}"): A,
    ("DELETE", "/api/v1/images/{entry_id}"): A,
    ("GET", "/api/v1/products"): V,
    ("GET", "/api/v1/products/{entry_id}"): V,
    ("POST", "/api/v1/products"): A,
    ("PATCH", "/api/v1/products/{entry_id}"): A,
    ("DELETE", "/api/v1/products/{entry_id}"): A,
    ("GET", "/api/v1/customers"): V,
    ("GET", "/api/v1/customers/{entry_id}"): V,
    ("POST", "/api/v1/customers"): OP,
    ("PATCH", "/api/v1/customers/{entry_id}"): OP,
    ("DELETE", "/api/v1/customers/{entry_id}"): OP,
    ("GET", "/api/v1/audit"): V,
    ("GET", "/api/v1/dcim/drift"): V,
    ("GET", "/api/v1/dcim/services/{service_id}"): V,
    ("POST", "/api/v1/dcim/services/{service_id}/sync"): OP,
}
"""Who may call each operation: the policy of `accounts.roles`, written down."""

PATH_VALUES = {
    "name": "solusvm2",
    "slug": "solusvm2",
    "verb": "suspend",
    "gateway": "stripe",
    "token_id": "999",
}
"""Values for path parameters (other ids: 1); token 999 does not exist, so nobody's is revoked."""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return CHEAP_HASHING


@pytest.fixture
async def people(installation: bootstrap.Installation) -> dict[Role, Account]:
    return {role: await make_user(installation, f"{role}-user", role) for role in Role}


@pytest.fixture
async def http(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(installation), "http://api.test") as client:
        yield client


def operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside."""
    return {
        (method, route.path_format)
        for route in iter_route_contexts(app.routes)
        for method in route.methods or ()
        if method != "HEAD" and route.path_format
    }


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
"""What a browser sends with a form posted from the page itself; the reveal link's POST refuses
any other (403, its own cross-site check, not a role), so every call here carries it."""


NOT_A_STREAM = {("GET", "/api/v1/events"): {"Last-Event-ID": "not-an-event-id"}}
"""The event stream never ends, so it is asked with a resume id it refuses (422): an answer that
comes only after the role check passed (test_api_events.py reads the stream itself)."""


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


async def _call(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    extra = NOT_A_STREAM.get((method, path), {})
    return await http.request(
        method, _url(path), json=body, headers={**SAME_ORIGIN, **extra, **headers}
    )


async def test_every_operation_has_a_declared_role(installation: bootstrap.Installation) -> None:
    served = operations(create_app(installation))
    assert served - EXPECTED.keys() == set(), "routes without a declared role in EXPECTED"
    assert EXPECTED.keys() - served == set(), "EXPECTED names routes the app does not serve"


async def test_every_operation_refuses_whom_it_should_and_lets_its_role_in(
    installation: bootstrap.Installation,
    http: httpx.AsyncClient,
    people: dict[Role, Account],
) -> None:
    problems = []
    for (method, path), needed in sorted(EXPECTED.items(), key=lambda item: item[0][::-1]):
        anonymous = await _call(http, method, path, {})
        if needed == PUBLIC:
            if anonymous.status_code in (401, 403):
                problems.append(f"{method} {path}: public, answered {anonymous.status_code}")
            continue
        assert isinstance(needed, Role)
        if anonymous.status_code != 401:
            problems.append(f"{method} {path}: anonymous got {anonymous.status_code}")
        if needed is not Role.VIEWER:
            viewer = await _call(http, method, path, people[Role.VIEWER].bearer)
            if viewer.status_code != 403:
                problems.append(f"{method} {path}: a viewer got {viewer.status_code}")
            below = Role.OPERATOR if needed is Role.ADMIN else None
            if below is not None:
                operator = await _call(http, method, path, people[below].bearer)
                if operator.status_code != 403:
                    problems.append(f"{method} {path}: an operator got {operator.status_code}")
        allowed = await _call(http, method, path, people[needed].bearer)
        if allowed.status_code in (401, 403):
            problems.append(f"{method} {path}: a {needed} got {allowed.status_code}")
    assert problems == []


async def test_the_openapi_document_names_each_operations_role(
    installation: bootstrap.Installation,
) -> None:
    document = create_app(installation).openapi()
    for (method, path), needed in EXPECTED.items():
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue  # not in the document (docs, /metrics, the return page)
        if needed == PUBLIC:
            assert "x-required-role" not in operation and "security" not in operation, path
        else:
            assert operation["x-required-role"] == needed, (method, path)
            assert "401" in operation["responses"], (method, path)
            if method != "GET" or needed is not Role.VIEWER:
                assert "403" in operation["responses"], (method, path)


async def test_a_session_carries_its_users_role_too(
    installation: bootstrap.Installation, people: dict[Role, Account]
) -> None:
    async with asgi_client(create_app(installation), "http://127.0.0.1") as browser:
        viewer = people[Role.VIEWER]
        login = await browser.post(
            "/api/v1/auth/login", json={"username": viewer.username, "password": viewer.password}
        )
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        refused = await browser.post("/api/v1/runs/1/cancel", headers=csrf)
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == "this needs the operator role"
        operator = people[Role.OPERATOR]
        login = await browser.post(
            "/api/v1/auth/login",
            json={"username": operator.username, "password": operator.password},
        )
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert (await browser.post("/api/v1/runs/999/cancel", headers=csrf)).status_code == 404
