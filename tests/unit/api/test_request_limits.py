"""The request limits middleware, in front of a small echo app (no database, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from fluxbilling import metrics
from fluxbilling.api.request_limits import (
    LimitRequests,
    RequestLimits,
    document_limits,
    header_size,
    route_class,
)
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

SMALL = RequestLimits(header_bytes=2048, api_bytes=1024, plugin_bytes=2048, webhook_bytes=512)


class Echo:
    """An ASGI app that answers with the body it read, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def echo() -> Echo:
    return Echo()


@pytest.fixture
async def client(echo: Echo) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(LimitRequests(echo, SMALL), "http://api.test") as c:
        yield c


def refused(route: str, reason: str) -> float:
    labels = {"route": route, "reason": reason}
    return metrics.REGISTRY.get_sample_value("fluxbilling_requests_refused_total", labels) or 0.0


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


async def test_bodies_within_the_limit_reach_the_app_unchanged(
    client: httpx.AsyncClient, echo: Echo
) -> None:
    body = b'{"a": [' + b"1," * 400 + b'1], "s": "\xc3\xa9[[["}'
    response = await client.post("/api/v1/orders", content=body)
    assert (response.status_code, response.content) == (200, body)
    assert (await client.get("/api/v1/orders")).status_code == 200
    assert echo.calls == 2


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/api/v1/orders", 1024), ("/api/v1/plugins", 2048), ("/webhooks/stripe", 512)],
)
async def test_a_declared_length_over_the_route_limit_is_413_before_reading(
    client: httpx.AsyncClient, echo: Echo, path: str, limit: int
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        pulled += 1
        yield b"x" * (limit + 1)

    before = refused(route_class(path), "body_too_large")
    response = await client.post(path, content=body(), headers={"Content-Length": str(limit + 1)})
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    size = f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"
    assert error(response) == {
        "code": "BodyTooLarge",
        "message": f"body larger than {size}",
        "details": {"max_bytes": limit},
    }
    assert (pulled, echo.calls) == (0, 0)
    assert refused(route_class(path), "body_too_large") == before + 1
    at_limit = await client.post(path, content=b"x" * limit, headers={"Content-Type": "text/plain"})
    assert at_limit.status_code == 200


async def test_a_streamed_body_is_read_only_up_to_the_limit(
    client: httpx.AsyncClient, echo: Echo
) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 100

    response = await client.post("/api/v1/orders", content=endless())
    assert response.status_code == 413
    assert error(response)["code"] == "BodyTooLarge"
    assert pulled == 11  # 1,100 bytes: the first chunk past 1 KiB
    assert echo.calls == 0


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/merge-patch+json; charset=utf-8"]
)
async def test_json_nested_too_deep_is_422_naming_the_limit(
    client: httpx.AsyncClient, echo: Echo, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    deep = b"[" * 65 + b"]" * 65
    response = await client.post("/api/v1/orders", content=deep, headers=headers)
    assert response.status_code == 422
    assert "connection" not in response.headers  # the body was read whole: keep the connection
    assert error(response) == {
        "code": "InvalidBody",
        "message": "JSON nested deeper than 64 levels",
        "details": {"max_depth": 64},
    }
    assert echo.calls == 0
    ok = await client.post("/api/v1/orders", content=b"[" * 64 + b"]" * 64, headers=headers)
    assert ok.status_code == 200


async def test_json_that_is_not_utf8_is_422(client: httpx.AsyncClient) -> None:
    body = '{"name": "\u20ac"}'.encode("utf-16")
    response = await client.post("/api/v1/orders", content=body)
    assert response.status_code == 422
    assert error(response)["message"].startswith("JSON text is not UTF-8")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
async def test_bodies_not_parsed_as_json_are_not_scanned(
    client: httpx.AsyncClient, content_type: str
) -> None:
    body = b"fees[" * 100
    response = await client.post(
        "/webhooks/coingate", content=body, headers={"Content-Type": content_type}
    )
    assert (response.status_code, response.content) == (200, body)


async def test_headers_over_the_limit_are_431(client: httpx.AsyncClient, echo: Echo) -> None:
    before = refused("api", "headers_too_large")
    response = await client.get("/api/v1/orders", headers={"X-Big": "y" * 2100})
    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert error(response) == {
        "code": "HeadersTooLarge",
        "message": "request headers larger than 2 KiB",
        "details": {"max_bytes": 2048},
    }
    assert echo.calls == 0
    assert refused("api", "headers_too_large") == before + 1


def test_header_size_counts_lines_as_sent() -> None:
    assert header_size([(b"host", b"api.test"), (b"x-a", b"")]) == len(
        b"host: api.test\r\nx-a: \r\n"
    )


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/webhooks/stripe", "webhook"),
        ("/api/v1/plugins", "plugin"),
        ("/api/v1/plugins/", "plugin"),
        ("/api/v1/plugins/acme/versions", "api"),
        ("/api/v1/plugins/test-runs", "plugin"),
        ("/api/v1/plugins/test-runs/resume", "plugin"),
        ("/api/v1/plugins/test-runs/other", "api"),
        ("/api/v1/orders", "api"),
        ("/webhooks", "api"),
    ],
)
def test_route_classes(path: str, route: str) -> None:
    assert route_class(path) == route


def test_openapi_operations_that_read_a_body_document_the_413() -> None:
    openapi: dict[str, Any] = {
        "paths": {
            "/api/v1/orders": {"post": {"requestBody": {}, "responses": {}}, "get": {}},
            "/api/v1/plugins": {"post": {"requestBody": {}, "responses": {"413": {"x": 1}}}},
            "/webhooks/{gateway}": {"post": {"responses": {"200": {}}}},
        }
    }
    document_limits(openapi, SMALL)
    paths = openapi["paths"]
    assert paths["/api/v1/orders"]["post"]["responses"] == {
        "413": {"description": "the body is larger than 1 KiB"}
    }
    assert "responses" not in paths["/api/v1/orders"]["get"]
    assert paths["/api/v1/plugins"]["post"]["responses"] == {"413": {"x": 1}}
    assert paths["/webhooks/{gateway}"]["post"]["responses"]["413"] == {
        "description": "the body is larger than 512 bytes"
    }


async def test_other_scopes_pass_through(echo: Echo) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await LimitRequests(app)({"type": "lifespan"}, nothing, ignore)
    assert seen == ["lifespan"]


async def test_a_client_gone_before_its_body_arrived_gets_no_answer(echo: Echo) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"[1,", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api/v1/orders", "headers": [], "method": "POST"}
    await LimitRequests(echo, SMALL)(scope, receive, send)
    assert (echo.calls, sent) == (0, [])


async def test_an_unreadable_content_length_counts_the_bytes_instead(echo: Echo) -> None:
    messages = [{"type": "http.request", "body": b"x" * 2000, "more_body": False}]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "path": "/api/v1/orders",
        "headers": [(b"content-length", b"lots"), (b"content-type", b"text/plain")],
        "method": "POST",
    }
    await LimitRequests(echo, SMALL)(scope, receive, send)
    assert echo.calls == 0
    assert sent[0]["status"] == 413
