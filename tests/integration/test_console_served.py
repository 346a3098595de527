"""The installation's API serves the console at `/` beside its own routes (both databases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    build = tmp_path / "console"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text('<div id="root"></div><meta content="__CSP_NONCE__">')
    (build / "assets" / "app-0f1e2d.js").write_text("export {}")
    return {"console_dir": build}


async def test_the_console_and_the_api_share_one_origin(client: httpx.AsyncClient) -> None:
    for path in ("/", "/orders/42", "/connections/solusvm2"):
        page = await client.get(path)  # no credential: the app asks for a login itself
        assert page.status_code == 200, path
        assert 'id="root"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (
        (await client.get("/assets/app-0f1e2d.js")).headers["cache-control"].endswith("immutable")
    )
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert "paths" in (await client.get("/openapi.json")).json()
    refused = await client.get("/api/v1/orders/1")
    assert refused.status_code == 401
    assert "error" in refused.json()


async def test_an_unknown_api_path_is_the_api_s_404(api: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nothing", "/webhooks/nothing/here", "/api/v2"):
        answer = await api.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "HTTPError"
