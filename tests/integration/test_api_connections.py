"""The connection API: secrets are write-only, bad input is named, the test action calls the vendor.

The SolusVM 2 simulator here accepts only `TOKEN`, a value distinctive enough that finding
it anywhere (a response, the activity log, a log record) would be a leak.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.seed import seed_bare_product
from fluxbilling_simulators import solusvm2
from tests.integration.support import drain, place_and_pay, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
TOKEN = "sv2-Secret-9QxT7wLp4Z"
OTHER = "wrong-Secret-K3vB8nR2"
SIM_URL = "http://solusvm.test/api/v1"
LOOPBACK = ["127.0.0.1/32"]  # the test resolver puts the simulators there
NEW = {
    "name": "sv2-ams",
    "type": "solusvm2",
    "base_url": SIM_URL,
    "secrets": {"api_token": TOKEN},
    "allowed_networks": LOOPBACK,
}


@pytest.fixture
def sim() -> solusvm2.SolusVM2State:
    """The simulator (the installation fixture serves it) accepting only `TOKEN`."""
    return solusvm2.SolusVM2State(token=TOKEN, polls_until_started=1)


class Recorder:
    """An API client that keeps every response body it received."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.bodies: list[str] = []

    async def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, path, headers=AUTH, **kwargs)
        self.bodies.append(response.text)
        return response


@pytest.fixture
def api(client: httpx.AsyncClient) -> Recorder:
    """The operator API (sending `AUTH` itself), recording every response body."""
    return Recorder(client)


async def connection_names(inst: bootstrap.Installation) -> list[str]:
    table = schema.connections
    return [r.name for r in await rows(inst, sa.select(table.c.name).order_by(table.c.name))]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_every_connection_endpoint_needs_the_token(
    api: Recorder, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/api/v1/connections"),
        ("POST", "/api/v1/connections"),
        ("GET", "/api/v1/connections/solusvm2"),
        ("PATCH", "/api/v1/connections/solusvm2"),
        ("DELETE", "/api/v1/connections/solusvm2"),
        ("POST", "/api/v1/connections/solusvm2/test"),
        ("GET", "/api/v1/connection-types"),
    ):
        response = await api.client.request(method, path, headers=headers, json=NEW)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "HTTPError"


async def test_connection_types_name_their_secrets_and_default_auth(api: Recorder) -> None:
    response = await api("GET", "/api/v1/connection-types")
    assert response.status_code == 200
    types = {t["name"]: t for t in response.json()}
    assert sorted(types) == [
        "cloudflare",
        "http",
        "netbox",
        "pterodactyl",
        "solusvm2",
        "virtualizor",
        "whm",
    ]
    assert types["solusvm2"] == {
        "name": "solusvm2",
        "title": "SolusVM 2 REST API v1 (base URL ends in /api/v1/)",
        "secrets": ["api_token"],
        "optional_secrets": [],
        "auth": {"scheme": "bearer", "secret": "api_token"},
    }
    assert types["pterodactyl"]["optional_secrets"] == ["client_key"]
    assert types["virtualizor"]["auth"] == {
        "scheme": "query",
        "params": {"adminapikey": "api_key", "adminapipass": "api_pass"},
    }


async def test_create_names_secrets_and_never_shows_them(
    installation: bootstrap.Installation, api: Recorder
) -> None:
    created = await api("POST", "/api/v1/connections", json={**NEW, "settings": {"note": "ams"}})
    assert created.status_code == 201
    body = created.json()
    assert body["created_at"] is not None and body["networks_allowed_at"] is not None
    assert {
        k: v for k, v in body.items() if k not in ("id", "created_at", "networks_allowed_at")
    } == {
        "name": "sv2-ams",
        "type": "solusvm2",
        "base_url": SIM_URL,
        "settings": {"note": "ams"},
        "secret_names": ["api_token"],
        "allowed_networks": LOOPBACK,
        "networks_allowed_by": "installation-token",
        "purpose": "production",
    }
    one = await api("GET", "/api/v1/connections/sv2-ams")
    assert one.json() == body
    listed = (await api("GET", "/api/v1/connections")).json()["items"]
    assert [(c["name"], c["secret_names"]) for c in listed] == [
        ("solusvm2", ["api_token"]),
        ("sv2-ams", ["api_token"]),
    ]
    (sealed,) = await rows(
        installation,
        sa.select(schema.connections.c.secrets_sealed).where(
            schema.connections.c.name == "sv2-ams"
        ),
    )
    assert TOKEN not in sealed.secrets_sealed
    assert all(TOKEN not in text for text in api.bodies)


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"type": "carrier-pigeon"}, ["type"]),
        ({"base_url": "ftp://solusvm.test/api/v1"}, ["base_url"]),
        ({"secrets": {}}, ["secrets.api_token"]),
        ({"secrets": {"api_token": ""}}, ["secrets.api_token"]),
        (
            {"base_url": "solusvm.test", "secrets": {"other": TOKEN}},
            ["base_url", "secrets.api_token"],
        ),
        ({"settings": {"auth": {"scheme": "kerberos", "secret": "api_token"}}}, ["settings.auth"]),
        # the secret's value where its name belongs: the error names it, masked
        ({"settings": {"auth": {"scheme": "bearer", "secret": TOKEN}}}, ["settings.auth"]),
        ({"name": "has spaces"}, ["body.name"]),
        ({"secrets": {"api_token": 12345}}, ["body.secrets.api_token"]),
        ({"password": TOKEN}, ["body.password"]),
    ],
)
async def test_bad_input_is_422_naming_each_problem_without_the_secret(
    installation: bootstrap.Installation,
    api: Recorder,
    change: dict[str, Any],
    paths: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await api("POST", "/api/v1/connections", json={**NEW, **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert [p["path"] for p in error["details"]["problems"]] == paths
    assert TOKEN not in response.text
    assert TOKEN not in caplog.text
    assert await connection_names(installation) == ["solusvm2"]


async def test_a_secret_given_by_mistake_as_the_auth_secret_name_is_masked(
    api: Recorder,
) -> None:
    response = await api(
        "POST",
        "/api/v1/connections",
        json={**NEW, "settings": {"auth": {"scheme": "bearer", "secret": TOKEN}}},
    )
    (problem,) = response.json()["error"]["details"]["problems"]
    assert problem == {
        "path": "settings.auth",
        "message": "the connection has no secret named '***'",
    }
    assert response.json()["error"]["message"] == (
        "connection 'sv2-ams' is invalid: settings.auth: the connection has no secret named '***'"
    )


async def test_a_duplicate_name_is_409(installation: bootstrap.Installation, api: Recorder) -> None:
    assert (await api("POST", "/api/v1/connections", json=NEW)).status_code == 201
    again = await api("POST", "/api/v1/connections", json={**NEW, "base_url": "http://x.test/"})
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "Conflict",
        "message": "a connection named 'sv2-ams' already exists",
        "details": {"name": "sv2-ams"},
    }
    assert TOKEN not in again.text
    shown = (await api("GET", "/api/v1/connections/sv2-ams")).json()
    assert shown["base_url"] == SIM_URL
    assert await connection_names(installation) == ["solusvm2", "sv2-ams"]


async def test_patch_changes_url_settings_and_secrets(api: Recorder) -> None:
    assert (await api("POST", "/api/v1/connections", json=NEW)).status_code == 201
    patched = await api(
        "PATCH",
        "/api/v1/connections/sv2-ams",
        json={
            "base_url": SIM_URL + "/",
            "settings": {"auth": {"scheme": "header", "name": "X-Key", "secret": "extra"}},
            "secrets": {"extra": OTHER},
        },
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["base_url"], body["secret_names"]) == (SIM_URL + "/", ["api_token", "extra"])
    assert body["settings"] == {"auth": {"scheme": "header", "name": "X-Key", "secret": "extra"}}
    # back to the type's default auth, then the extra secret can go
    reset = await api(
        "PATCH", "/api/v1/connections/sv2-ams", json={"settings": {}, "secrets": {"extra": None}}
    )
    assert reset.status_code == 200
    assert (reset.json()["settings"], reset.json()["secret_names"]) == ({}, ["api_token"])
    assert reset.json()["base_url"] == SIM_URL + "/"
    assert all(TOKEN not in text and OTHER not in text for text in api.bodies)


async def test_patch_that_would_be_invalid_changes_nothing(api: Recorder) -> None:
    assert (await api("POST", "/api/v1/connections", json=NEW)).status_code == 201
    removed = await api(
        "PATCH",
        "/api/v1/connections/sv2-ams",
        json={"base_url": "gopher://x", "secrets": {"api_token": None}},
    )
    assert removed.status_code == 422
    problems = removed.json()["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == ["base_url", "secrets.api_token"]
    masked = await api(
        "PATCH",
        "/api/v1/connections/sv2-ams",
        json={"settings": {"auth": {"scheme": "bearer", "secret": OTHER}}, "secrets": {"x": OTHER}},
    )
    assert masked.status_code == 422
    assert OTHER not in masked.text
    assert "no secret named '***'" in masked.text
    shown = (await api("GET", "/api/v1/connections/sv2-ams")).json()
    assert (shown["base_url"], shown["secret_names"], shown["settings"]) == (
        SIM_URL,
        ["api_token"],
        {},
    )
    tested = (await api("POST", "/api/v1/connections/sv2-ams/test")).json()
    assert tested["ok"] is True  # the token is still there
    missing = await api("PATCH", "/api/v1/connections/nope", json={"base_url": SIM_URL})
    assert missing.status_code == 404
    unknown_field = await api("PATCH", "/api/v1/connections/sv2-ams", json={"type": "whm"})
    assert unknown_field.status_code == 422
    assert [p["path"] for p in unknown_field.json()["error"]["details"]["problems"]] == [
        "body.type"
    ]


async def test_delete_is_refused_while_a_product_uses_the_connection(
    installation: bootstrap.Installation, api: Recorder
) -> None:
    refused = await api("DELETE", "/api/v1/connections/solusvm2")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"products": ["vps-2g"]}
    assert (await api("POST", "/api/v1/connections", json=NEW)).status_code == 201
    deleted = await api("DELETE", "/api/v1/connections/sv2-ams")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await api("GET", "/api/v1/connections/sv2-ams")).status_code == 404
    assert (await api("DELETE", "/api/v1/connections/sv2-ams")).status_code == 404
    assert await connection_names(installation) == ["solusvm2"]


async def test_the_test_action_calls_the_vendor_and_shows_a_redacted_exchange(
    api: Recorder, sim: solusvm2.SolusVM2State, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert (await api("POST", "/api/v1/connections", json=NEW)).status_code == 201
    requests_before = sim.requests
    good = await api("POST", "/api/v1/connections/sv2-ams/test")
    assert good.status_code == 200
    result = good.json()
    assert (result["ok"], result["status"], result["message"]) == (True, 200, "HTTP 200")
    assert result["elapsed_ms"] >= 0
    exchange = result["exchange"]
    assert exchange["request"]["method"] == "GET"
    assert exchange["request"]["url"] == SIM_URL + "/plans"
    assert exchange["request"]["headers"]["Authorization"] == "***"
    assert exchange["response"]["status"] == 200
    assert exchange["response"]["headers"] == {"content-type": "application/json"}
    assert exchange["response"]["body"].startswith('{"data":')  # a snippet, not the document
    assert len(exchange["response"]["body"]) <= 200
    assert sim.requests == requests_before + 1
    rotated = await api(
        "PATCH", "/api/v1/connections/sv2-ams", json={"secrets": {"api_token": OTHER}}
    )
    assert rotated.status_code == 200
    refused = (await api("POST", "/api/v1/connections/sv2-ams/test")).json()
    assert (refused["ok"], refused["status"]) == (False, 401)
    assert "HTTP 401" in refused["message"]
    assert refused["exchange"]["request"]["headers"]["Authorization"] == "***"
    assert refused["exchange"]["response"]["body"] == '{"message":"Unauthenticated."}'
    assert (await api("POST", "/api/v1/connections/nope/test")).status_code == 404
    for secret in (TOKEN, OTHER):
        assert all(secret not in text for text in api.bodies)
        assert secret not in caplog.text


async def test_a_secret_set_through_the_api_never_reaches_activity_or_logs(
    installation: bootstrap.Installation, api: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await api("POST", "/api/v1/connections", json=NEW)
    assert created.status_code == 201
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.products.update()
            .where(schema.products.c.slug == "vps-2g")
            .values(connection_id=created.json()["id"])
        )
        # The panel's nodes move with it: products are placed on their own panel's hosts.
        await conn.execute(schema.hosts.update().values(connection_id=created.json()["id"]))
    order_id = await place_and_pay(installation, "secret.example.com")
    await drain(installation)
    order = await api("GET", f"/api/v1/orders/{order_id}")
    assert order.json()["state"] == "active"  # the order ran on the API-made connection
    assert (await api("POST", "/api/v1/connections/sv2-ams/test")).json()["ok"] is True
    await api("GET", "/api/v1/runs")
    activity = await rows(installation, sa.select(schema.activity_log))
    assert len(activity) > 5
    assert all(TOKEN not in f"{r.message} {r.data}" for r in activity)
    (run,) = await rows(installation, sa.select(schema.runs))
    assert TOKEN not in str(run.last_upstream) and TOKEN not in str(run.last_error)
    assert all(TOKEN not in text for text in api.bodies)
    assert caplog.records and TOKEN not in caplog.text


async def test_a_connection_stored_without_secrets_lists_no_names(
    installation: bootstrap.Installation, api: Recorder
) -> None:
    async with installation.db.begin() as conn:
        await seed_bare_product(conn, slug="bare")  # its connection has no sealed secrets
    listed = (await api("GET", "/api/v1/connections")).json()["items"]
    assert [(c["name"], c["secret_names"]) for c in listed] == [
        ("bare", []),
        ("solusvm2", ["api_token"]),
    ]


async def test_openapi_documents_the_connection_endpoints(api: Recorder) -> None:
    document = (await api.client.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/v1/connections"]) == {"get", "post"}
    assert set(paths["/api/v1/connections/{name}"]) == {"get", "patch", "delete"}
    assert "post" in paths["/api/v1/connections/{name}/test"]
    assert "get" in paths["/api/v1/connection-types"]
    schemas = document["components"]["schemas"]
    secrets = schemas["ConnectionIn"]["properties"]["secrets"]["additionalProperties"]
    assert secrets["writeOnly"] is True
    assert "secrets" not in schemas["ConnectionOut"]["properties"]
    assert "secret_names" in schemas["ConnectionOut"]["properties"]


async def test_testing_a_connection_of_an_unknown_type_says_so(
    installation: bootstrap.Installation, api: Recorder
) -> None:
    async with installation.db.begin() as conn:
        await seed_bare_product(conn, slug="legacy")  # a connection of type "noop"
    tested = await api("POST", "/api/v1/connections/legacy/test")
    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert "unknown connection type 'noop'" in tested.json()["message"]


async def test_a_vendor_echoing_the_token_in_a_refusal_is_redacted(
    installation: bootstrap.Installation, api: Recorder, whm_sim: Any
) -> None:
    created = await api(
        "POST",
        "/api/v1/connections",
        json={
            "name": "whm-echo",
            "type": "whm",
            "base_url": "http://whm.test/json-api/",
            "secrets": {"api_token": TOKEN},
            "allowed_networks": LOOPBACK,
        },
    )
    assert created.status_code == 201, created.text
    whm_sim.token = TOKEN
    whm_sim.version = TOKEN  # the probe's answer now echoes the token back
    tested = await api("POST", "/api/v1/connections/whm-echo/test")
    assert tested.json()["ok"] is True
    assert '"version":"***"' in tested.json()["exchange"]["response"]["body"]
    assert TOKEN not in tested.text
