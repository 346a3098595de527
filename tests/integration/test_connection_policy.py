"""The upstream address policy and secret binding, through the connection API and a paid order.

The test resolver puts every simulator on loopback (127.0.0.1), so a connection reaches one
only with the explicit allowance an admin gives a panel on a private network.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling_simulators import solusvm2
from tests.integration.support import SIMULATOR_NETWORKS, finish, place_and_pay, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
TOKEN = "sv2-Secret-9QxT7wLp4Z"
OTHER = "moved-Secret-K3vB8nR2"
URL_PASSWORD = "Url-Pass-7hGq2Lm9"
SIM_URL = "http://solusvm.test/api/v1"
NEW: dict[str, Any] = {
    "name": "sv2-ams",
    "type": "solusvm2",
    "base_url": SIM_URL,
    "secrets": {"api_token": TOKEN},
    "allowed_networks": SIMULATOR_NETWORKS,
}


@pytest.fixture
def sim() -> solusvm2.SolusVM2State:
    """The simulator (the installation fixture serves it) accepting only `TOKEN`."""
    return solusvm2.SolusVM2State(token=TOKEN, polls_until_started=1)


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    return await client.request(method, path, headers=AUTH, **kw)


async def stored(inst: bootstrap.Installation, name: str) -> Any:
    table = schema.connections
    (row,) = await rows(inst, sa.select(table).where(table.c.name == name))
    return row


async def set_column(inst: bootstrap.Installation, name: str, **values: Any) -> None:
    """Write a connection row directly, as one stored before these checks existed would be."""
    async with inst.db.begin() as conn:
        await conn.execute(
            schema.connections.update().where(schema.connections.c.name == name).values(**values)
        )


@pytest.mark.parametrize(
    ("base_url", "needle"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://127.1/", "127.0.0.1 is a loopback address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "is a loopback address"),
        ("http://localhost:4085/", "localhost is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address: never reached"),
        ("http://[fd00:ec2::254]/", "cloud metadata address: never reached"),
    ],
)
async def test_addresses_the_policy_refuses_are_422_naming_base_url(
    installation: bootstrap.Installation, client: httpx.AsyncClient, base_url: str, needle: str
) -> None:
    body = {**NEW, "base_url": base_url, "allowed_networks": []}
    response = await call(client, "POST", "/api/v1/connections", json=body)
    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]["problems"]
    assert problem["path"] == "base_url"
    assert needle in problem["message"] and "upstream address policy" in problem["message"]
    names = await rows(installation, sa.select(schema.connections.c.name))
    assert [r.name for r in names] == ["solusvm2"]


async def test_metadata_stays_refused_whatever_networks_are_allowed(
    client: httpx.AsyncClient,
) -> None:
    body = {
        **NEW,
        "base_url": "http://169.254.169.254/",
        "allowed_networks": ["169.254.0.0/16", "0.0.0.0/0", "127.0.0.0/8"],
    }
    response = await call(client, "POST", "/api/v1/connections", json=body)
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == [
        "base_url",
        "allowed_networks.0",
        "allowed_networks.1",
    ]


async def test_a_loopback_panel_is_reached_only_after_an_audited_allow(
    client: httpx.AsyncClient, sim: solusvm2.SolusVM2State, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    created = await call(
        client, "POST", "/api/v1/connections", json={**NEW, "allowed_networks": []}
    )
    assert created.status_code == 201  # a name: checked when connected to
    assert created.json()["allowed_networks"] == []
    assert created.json()["networks_allowed_by"] is None
    before = sim.requests
    refused = (await call(client, "POST", "/api/v1/connections/sv2-ams/test")).json()
    assert (refused["ok"], refused["status"]) == (False, None)
    assert "solusvm.test refused by the upstream address policy" in refused["message"]
    assert "127.0.0.1 is a loopback address" in refused["message"]
    assert sim.requests == before  # nothing was sent, not even the token

    allowed = await call(
        client, "PATCH", "/api/v1/connections/sv2-ams", json={"allowed_networks": ["127.0.0.1"]}
    )
    assert allowed.status_code == 200
    shown = (await call(client, "GET", "/api/v1/connections/sv2-ams")).json()
    assert shown["allowed_networks"] == ["127.0.0.1/32"]
    assert shown["networks_allowed_by"] == "installation-token"
    assert shown["networks_allowed_at"] is not None
    assert (
        "connection sv2-ams: upstream address policy allowance set to 127.0.0.1/32 by installation-token"
        in caplog.text
    )
    tested = (await call(client, "POST", "/api/v1/connections/sv2-ams/test")).json()
    assert (tested["ok"], tested["status"]) == (True, 200)
    assert sim.requests == before + 1


async def test_the_test_action_answers_a_verdict_not_the_upstreams_body(
    client: httpx.AsyncClient,
) -> None:
    assert (await call(client, "POST", "/api/v1/connections", json=NEW)).status_code == 201
    tested = (await call(client, "POST", "/api/v1/connections/sv2-ams/test")).json()
    assert tested["ok"] is True
    response = tested["exchange"]["response"]
    assert set(response) == {"status", "headers", "body"}
    assert response["headers"] == {"content-type": "application/json"}
    assert len(response["body"]) <= 200 and response["body"].endswith("…")
    assert "current_page" not in json.dumps(tested)  # the rest of the document stays there


@pytest.mark.parametrize(
    "moved",
    [
        "http://elsewhere.test/api/v1",  # another host
        "https://solusvm.test/api/v1",  # another scheme
        "http://solusvm.test:8080/api/v1",  # another port
    ],
)
async def test_moving_a_connection_to_another_origin_needs_its_secrets_again(
    installation: bootstrap.Installation, client: httpx.AsyncClient, moved: str
) -> None:
    assert (await call(client, "POST", "/api/v1/connections", json=NEW)).status_code == 201
    response = await call(client, "PATCH", "/api/v1/connections/sv2-ams", json={"base_url": moved})
    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]["problems"]
    assert problem["path"] == "secrets.api_token"
    assert "a secret goes only to the host it was entered for" in problem["message"]
    assert (await stored(installation, "sv2-ams")).base_url == SIM_URL  # nothing changed

    again = await call(
        client,
        "PATCH",
        "/api/v1/connections/sv2-ams",
        json={"base_url": moved, "secrets": {"api_token": OTHER}},
    )
    assert again.status_code == 200
    row = await stored(installation, "sv2-ams")
    assert row.base_url == moved
    assert json.loads(installation.vault.open(row.secrets_sealed)) == {"api_token": OTHER}
    assert TOKEN not in again.text and OTHER not in again.text


async def test_a_path_change_on_the_same_origin_keeps_the_secrets(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    assert (await call(client, "POST", "/api/v1/connections", json=NEW)).status_code == 201
    for same in ("http://SOLUSVM.test:80/api/v1/", "http://solusvm.test/api/v1"):
        patched = await call(
            client, "PATCH", "/api/v1/connections/sv2-ams", json={"base_url": same}
        )
        assert patched.status_code == 200, patched.text
    row = await stored(installation, "sv2-ams")
    assert json.loads(installation.vault.open(row.secrets_sealed)) == {"api_token": TOKEN}


async def test_a_line_break_in_a_url_is_422_and_a_stored_one_fails_cleanly(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    broken = SIM_URL + "\r\nX-Injected: 1"
    created = await call(client, "POST", "/api/v1/connections", json={**NEW, "base_url": broken})
    assert created.status_code == 422
    assert created.json()["error"]["details"]["problems"][0] == {
        "path": "base_url",
        "message": "must not contain spaces or control characters (such as a line break)",
    }
    patched = await call(client, "PATCH", "/api/v1/connections/solusvm2", json={"base_url": broken})
    assert patched.status_code == 422
    await set_column(installation, "solusvm2", base_url=broken)  # stored before the check
    tested = await call(client, "POST", "/api/v1/connections/solusvm2/test")
    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert "control characters" in tested.json()["message"]


async def test_credentials_in_a_url_are_refused_and_a_stored_one_is_never_shown(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    with_userinfo = f"http://admin:{URL_PASSWORD}@solusvm.test/api/v1"
    created = await call(
        client, "POST", "/api/v1/connections", json={**NEW, "base_url": with_userinfo}
    )
    assert created.status_code == 422
    assert "must not contain credentials" in created.text
    assert URL_PASSWORD not in created.text
    await set_column(installation, "solusvm2", base_url=with_userinfo)  # stored before
    one = await call(client, "GET", "/api/v1/connections/solusvm2")
    assert one.json()["base_url"] == "http://***@solusvm.test/api/v1"
    listed = await call(client, "GET", "/api/v1/connections")
    tested = await call(client, "POST", "/api/v1/connections/solusvm2/test")
    assert tested.json()["ok"] is False
    assert "must not contain credentials" in tested.json()["message"]
    assert all(URL_PASSWORD not in r.text for r in (one, listed, tested))


async def test_an_order_on_a_refused_address_fails_at_once_naming_the_policy(
    installation: bootstrap.Installation, sim: solusvm2.SolusVM2State
) -> None:
    # As a connection migrated from before the policy: no allowance for its loopback panel.
    await set_column(installation, "solusvm2", allowed_networks=[])
    order_id = await place_and_pay(installation, "refused.example.com")
    run = await finish(installation, order_id)
    assert (run.state, run.phase, run.attempt) == ("failed", "provision", 0)  # never retried
    assert run.last_error["code"] == "PermanentUpstreamError"
    assert "solusvm.test refused by the upstream address policy" in run.last_error["message"]
    assert sim.requests == 0


async def test_an_ip_address_is_not_an_order_hostname(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    order = {
        "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
        "product": "vps-2g",
    }
    for hostname in ("127.0.0.1", "127.1", "10.0.0.5"):
        response = await call(
            client, "POST", "/api/v1/orders", json={**order, "hostname": hostname}
        )
        assert response.status_code == 422
        assert "is an IP address, not a domain name" in response.json()["error"]["message"]
    assert await rows(installation, sa.select(schema.orders)) == []
