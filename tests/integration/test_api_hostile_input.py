"""Values that break databases rather than schemas are refused with 422 naming the parameter,
alike on SQLite and PostgreSQL, and nothing is stored.

Found by the hardening review: an integer above 2^63 in an id, a cursor or a diff bound was a
500 on every endpoint that took one (`OverflowError` on SQLite, a `DataError` on PostgreSQL),
and a NUL in a customer's name was stored on SQLite but a 500 on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from tests.integration.support import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

BIG = 2**63
ORDER = {
    "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
    "product": "vps-2g",
    "hostname": "cobol.example.com",
}


def _problem(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    return str(error["message"])


@pytest.mark.parametrize(
    ("method", "url", "json", "named"),
    [
        ("GET", f"/api/v1/orders/{BIG}", None, "path.order_id"),
        ("GET", f"/api/v1/runs?cursor={BIG}", None, "query.cursor"),
        ("POST", f"/api/v1/runs/{BIG}/retry", None, "path.run_id"),
        ("POST", f"/api/v1/runs/{BIG}/cancel", None, "path.run_id"),
        ("GET", f"/api/v1/invoices/{BIG}", None, "path.invoice_id"),
        ("POST", f"/api/v1/invoices/{BIG}/sync", None, "path.invoice_id"),
        ("POST", f"/api/v1/invoices/{BIG}/checkout", {"gateway": "stripe"}, "path.invoice_id"),
        ("GET", f"/api/v1/webhook-deliveries/{BIG}", None, "path.delivery_id"),
        ("POST", f"/api/v1/webhook-deliveries/{BIG}/release", None, "path.delivery_id"),
        ("GET", f"/api/v1/webhook-deliveries?cursor={BIG}", None, "query.cursor"),
        ("GET", f"/api/v1/webhook-deliveries?invoice_id={BIG}", None, "query.invoice_id"),
        ("GET", f"/api/v1/actions/{BIG}", None, "path.action_id"),
        ("GET", f"/api/v1/services/{BIG}/actions", None, "path.service_id"),
        ("POST", f"/api/v1/services/{BIG}/actions/suspend", None, "path.service_id"),
        ("GET", f"/api/v1/plugins/solusvm2/versions/{BIG}", None, "path.version"),
        ("GET", "/api/v1/plugins/solusvm2/versions/2147483648", None, "path.version"),
        ("GET", f"/api/v1/plugins/solusvm2/diff?from=1&to={BIG}", None, "query.to"),
        ("GET", f"/api/v1/plugins/solusvm2/diff?from={BIG}&to=1", None, "query.from"),
        ("GET", f"/checkout/{BIG}/return", None, "path.invoice_id"),
    ],
)
async def test_an_integer_past_the_column_is_a_422_naming_the_parameter(
    api: httpx.AsyncClient, method: str, url: str, json: Any, named: str
) -> None:
    assert named in _problem(await api.request(method, url, json=json))


@pytest.mark.parametrize(
    ("customer", "hostname", "named"),
    [
        ({"email": "grace@example.com", "name": "Grace\x00Hopper"}, "cobol.example.com", "name"),
        ({"email": "grace@example.com", "name": "Grace\r\nHopper"}, "cobol.example.com", "name"),
        ({"email": "grace@example.com", "name": "Grace Hopper"}, "cobol.example.com\n", "hostname"),
        (
            {"email": "grace@example.com", "name": "Grace Hopper"},
            "co\x00bol.example.com",
            "hostname",
        ),
    ],
    ids=["nul-name", "crlf-name", "lf-hostname", "nul-hostname"],
)
async def test_nul_and_line_breaks_in_an_order_are_refused_and_nothing_is_stored(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    customer: dict[str, str],
    hostname: str,
    named: str,
) -> None:
    response = await api.post(
        "/api/v1/orders", json={**ORDER, "customer": customer, "hostname": hostname}
    )
    message = _problem(response)
    assert named in message
    assert "must not contain" in message
    assert await rows(installation, sa.select(schema.customers)) == []
    assert await rows(installation, sa.select(schema.orders)) == []


@pytest.mark.parametrize(
    ("method", "url", "named"),
    [
        ("GET", "/api/v1/connections/a%00b", "path.name"),
        ("DELETE", "/api/v1/connections/a%00b", "path.name"),
        ("GET", "/api/v1/plugins/a%00b/versions", "path.slug"),
        ("GET", "/api/v1/plugins/a%0D%0Ab/diff?from=1&to=2", "path.slug"),
        ("GET", "/api/v1/webhook-deliveries?gateway=a%00b", "query.gateway"),
        ("GET", "/api/v1/webhook-deliveries?outcome=%00", "query.outcome"),
        ("POST", "/api/v1/services/1/actions/sus%00pend", "path.verb"),
    ],
)
async def test_a_nul_in_a_path_or_query_string_is_a_422(
    api: httpx.AsyncClient, method: str, url: str, named: str
) -> None:
    assert named in _problem(await api.request(method, url))


async def test_a_nul_deep_inside_a_plugin_document_is_named_by_its_path(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/api/v1/plugins/solusvm2/versions/1")).json()["document"]
    document["plugin"]["name"] = "SolusVM\x00 2"
    message = _problem(await api.post("/api/v1/plugins", json=document))
    assert "plugin.name: must not contain a NUL character" in message
    assert [v["version"] for v in (await api.get("/api/v1/plugins/solusvm2/versions")).json()] == [
        1
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"settings": {"auth": {"name": "X-Key\x00"}}}, "settings.auth.name"),
        ({"settings": {"timeout": 2**64}}, "settings.timeout"),
    ],
)
async def test_connection_settings_that_no_database_stores_alike_are_refused(
    api: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    connection = {
        "name": "acme",
        "type": "solusvm2",
        "base_url": "http://vendor.example/api/v1",
        "secrets": {"api_token": "t0ken"},
    }
    message = _problem(await api.post("/api/v1/connections", json={**connection, **body}))
    assert named in message
    assert (await api.get("/api/v1/connections/acme")).status_code == 404


@pytest.mark.parametrize("secret", ["s3cret\x00", "s3cret\r\nX-Injected: 1"])
async def test_a_secret_with_a_nul_or_a_line_break_is_refused_without_echoing_it(
    api: httpx.AsyncClient, secret: str
) -> None:
    response = await api.post(
        "/api/v1/connections",
        json={
            "name": "acme",
            "type": "solusvm2",
            "base_url": "http://vendor.example/api/v1",
            "secrets": {"api_token": secret},
        },
    )
    assert "body.secrets.api_token" in _problem(response)
    assert "s3cret" not in response.text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"options": {"plan_id": 2**64}}, "params.options.plan_id"),
        ({"options": {"note": "a\x00b"}}, "params.options.note"),
    ],
)
async def test_action_parameters_that_no_database_stores_alike_are_refused(
    api: httpx.AsyncClient, params: dict[str, Any], named: str
) -> None:
    response = await api.post("/api/v1/services/1/actions/resize", json={"params": params})
    assert named in _problem(response)


async def test_a_non_json_number_in_a_body_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/services/1/actions/resize",
        content=b'{"params": {"options": {"ram": Infinity}}}',
        headers={"Content-Type": "application/json"},
    )
    assert "must be a finite number" in _problem(response)
