"""The console beside the API: its files, the SPA fallback, its headers, and what it never takes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fluxbilling.api import console, errors
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

INDEX = (
    '<!doctype html><html><head><meta name="csp-nonce" content="__CSP_NONCE__">'
    '<script type="module" src="/assets/app-1a2b3c.js"></script></head>'
    '<body><div id="root"></div></body></html>'
)


def build(directory: Path) -> Path:
    """A console build as Vite lays it out."""
    (directory / "assets").mkdir(parents=True)
    (directory / "index.html").write_text(INDEX)
    (directory / "assets" / "app-1a2b3c.js").write_text("console.log('console')")
    (directory / "favicon.svg").write_text("<svg/>")
    return directory


def app_serving(directory: Path) -> FastAPI:
    """An API with one route of each kind the console must leave alone, and the console."""
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v1/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    @app.post("/api/v1/things")
    async def create() -> dict[str, bool]:
        return {"created": True}

    console.install(app, directory)
    return app


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app_serving(build(tmp_path / "console")), "http://api.test") as c:
        yield c


@pytest.fixture
async def unbuilt(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app_serving(tmp_path / "missing"), "http://api.test") as c:
        yield c


def assert_secured(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/orders/42", "/runs?state=failed", "/index.html"])
async def test_every_console_path_gets_the_app(built: httpx.AsyncClient, path: str) -> None:
    response = await built.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert '<div id="root">' in response.text
    assert_secured(response)


async def test_each_answer_draws_its_own_style_nonce(built: httpx.AsyncClient) -> None:
    first, second = await built.get("/"), await built.get("/orders/42")
    nonces = []
    for response in (first, second):
        (nonce,) = re.findall(r'name="csp-nonce" content="([^"]+)"', response.text)
        assert f"style-src 'self' 'nonce-{nonce}'" in response.headers["content-security-policy"]
        assert console.NONCE_PLACEHOLDER not in response.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert len(nonces[0]) >= 16


async def test_hashed_assets_are_immutable_other_files_are_revalidated(
    built: httpx.AsyncClient,
) -> None:
    asset = await built.get("/assets/app-1a2b3c.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('console')"
    assert asset.headers["cache-control"] == console.IMMUTABLE
    assert "javascript" in asset.headers["content-type"]
    assert_secured(asset)
    icon = await built.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


async def test_a_missing_asset_is_404_not_the_app(built: httpx.AsyncClient) -> None:
    response = await built.get("/assets/app-0ld0ld.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "HTTPError"


@pytest.mark.parametrize("prefix", console.RESERVED)
async def test_the_api_s_paths_are_never_the_console_s(
    built: httpx.AsyncClient, prefix: str
) -> None:
    assert 'id="root"' not in (await built.get(prefix)).text  # FastAPI's own /docs, ...
    response = await built.get(f"{prefix}/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "HTTPError"


async def test_api_routes_keep_answering_and_refusing_as_before(built: httpx.AsyncClient) -> None:
    assert (await built.get("/api/v1/things/7")).json() == {"id": 7}
    assert (await built.post("/api/v1/things")).json() == {"created": True}
    wrong_method = await built.get("/api/v1/things")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "HTTPError"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_only_get_and_head_reach_the_console(built: httpx.AsyncClient, method: str) -> None:
    response = await built.request(method, "/orders/42")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "HTTPError"


async def test_head_answers_without_a_body(built: httpx.AsyncClient) -> None:
    response = await built.head("/assets/app-1a2b3c.js")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    ["/assets/../../secret.txt", "/../secret.txt", "/assets/%00.js", "/" + "a" * 5000],
)
async def test_nothing_outside_the_build_is_served(tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    files = console.ConsoleFiles(build(tmp_path / "console"), _not_found)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    await files(scope, receive, send)  # type: ignore[arg-type]  # a minimal ASGI scope
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]  # ASGI messages
    assert b"do not serve" not in body


async def _not_found(scope: object, receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})  # type: ignore[operator]  # an ASGI send
    await send({"type": "http.response.body", "body": b"not found"})  # type: ignore[operator]  # an ASGI send


async def test_an_unbuilt_console_says_how_to_build_it(unbuilt: httpx.AsyncClient) -> None:
    for path in ("/", "/orders/42"):
        response = await unbuilt.get(path)
        assert response.status_code == 503
        assert "make install" in response.text
        assert "npm run build" in response.text
        assert_secured(response)
    assert (await unbuilt.get("/api/v1/things/1")).json() == {"id": 1}
