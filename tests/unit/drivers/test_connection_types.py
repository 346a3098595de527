"""Connection types: authentication schemes, extra credentials and definition checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.drivers.connection_types import (
    CONNECTION_TYPES,
    base_url_problem,
    credentials_for,
    validate_connection,
)
from fluxbilling.drivers.upstream import UpstreamHttp


@pytest.mark.parametrize(
    ("auth", "headers", "params"),
    [
        ({"scheme": "bearer", "secret": "token"}, {"Authorization": "Bearer t0k"}, {}),
        ({"scheme": "header", "name": "X-Api-Key", "secret": "token"}, {"X-Api-Key": "t0k"}, {}),
        (
            {"scheme": "basic", "username": "root", "secret": "token"},
            {"Authorization": "Basic cm9vdDp0MGs="},
            {},
        ),
        (
            {"scheme": "whm", "username": "root", "secret": "token"},
            {"Authorization": "whm root:t0k"},
            {},
        ),
        ({"scheme": "query", "params": {"apikey": "token"}}, {}, {"apikey": "t0k"}),
        ({"scheme": "none"}, {}, {}),
    ],
)
def test_auth_schemes(
    auth: dict[str, Any], headers: dict[str, str], params: dict[str, str]
) -> None:
    found = credentials_for("http", {"auth": auth}, {"token": "t0k"})[None]
    assert (dict(found.headers), dict(found.params)) == (headers, params)


def test_types_bring_their_default_auth() -> None:
    virtualizor = credentials_for("virtualizor", {}, {"api_key": "k", "api_pass": "p"})[None]
    assert dict(virtualizor.params) == {"adminapikey": "k", "adminapipass": "p"}
    whm = credentials_for(
        "whm",
        {"auth": {"scheme": "whm", "username": "reseller", "secret": "api_token"}},
        {"api_token": "t"},
    )
    assert dict(whm[None].headers) == {"Authorization": "whm reseller:t"}
    cloudflare = credentials_for("cloudflare", {}, {"api_token": "cf"})[None]
    assert dict(cloudflare.headers) == {"Authorization": "Bearer cf"}


def test_optional_credentials_appear_only_with_their_secret() -> None:
    without = credentials_for("pterodactyl", {}, {"application_key": "ptla_1"})
    assert set(without) == {None}
    both = credentials_for("pterodactyl", {}, {"application_key": "ptla_1", "client_key": "ptlc_2"})
    assert dict(both["client"].headers) == {"Authorization": "Bearer ptlc_2"}


def test_auth_errors_name_the_problem() -> None:
    with pytest.raises(errors.InvalidSettings, match="no secret named 'api_token'"):
        credentials_for("http", {"auth": {"scheme": "bearer"}}, {})
    with pytest.raises(errors.InvalidSettings, match="unknown auth scheme 'digest'"):
        credentials_for("http", {"auth": {"scheme": "digest", "secret": "t"}}, {"t": "x"})
    with pytest.raises(errors.InvalidSettings, match="needs 'username'"):
        credentials_for("http", {"auth": {"scheme": "basic", "secret": "t"}}, {"t": "x"})
    with pytest.raises(errors.InvalidSettings, match="needs 'params'"):
        credentials_for("http", {"auth": {"scheme": "query"}}, {})
    with pytest.raises(errors.InvalidSettings, match="unknown connection type 'acme'"):
        credentials_for("acme", {}, {})
    with pytest.raises(errors.InvalidSettings, match="no secret named 'nope'"):
        credentials_for("http", {"credentials": {"extra": {"secret": "nope"}}}, {})


def test_validation_lists_every_problem_by_path() -> None:
    assert validate_connection("solusvm2", "https://panel/api/v1/", {}, {"api_token": "t"}) == []
    assert validate_connection("virtualizor", "ftp://x", {}, {"api_key": "k"}) == [
        {"path": "base_url", "message": "must be an http(s) URL"},
        {"path": "secrets.api_pass", "message": "required by virtualizor"},
    ]
    assert validate_connection("acme", "https://x", {}, {})[0]["path"] == "type"
    bad_auth = validate_connection("http", "https://x", {"auth": {"scheme": "digest"}}, {})
    assert bad_auth[0]["path"] == "settings.auth"


def test_every_type_has_a_probe_and_a_title() -> None:
    for kind in CONNECTION_TYPES.values():
        assert kind.title and kind.probe is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://panel.test/\r\nX-Injected: 1", "control characters"),
        ("http://panel.test/api\n", "control characters"),
        ("http://panel .test/", "spaces"),
        ("https://root:hunter22@panel.test/", "must not contain credentials"),
        ("https://token@panel.test/", "must not contain credentials"),
        ("https://panel.test/api?key=1", "query or a fragment"),
        ("https://panel.test/api#top", "query or a fragment"),
        ("https://panel.test:99999/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("ftp://panel.test/", "http(s) URL"),
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://127.1/", "127.0.0.1 is a loopback address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "is a loopback address"),
        ("http://localhost:8080/", "localhost is a loopback address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address: never reached"),
        ("http://0.0.0.0:8080/", "unspecified address: never reached"),
    ],
)
def test_base_url_problems(url: str, problem: str) -> None:
    found = base_url_problem(url)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "url",
    [
        "https://panel.example.com:4085/",
        "HTTPS://Panel.Example.com/api/v1",
        "http://93.184.215.14/",
    ],
)
def test_good_base_urls(url: str) -> None:
    assert base_url_problem(url) is None


def test_an_allowance_admits_loopback_and_private_literals_but_never_metadata() -> None:
    def problems(url: str, allowed: list[str]) -> list[str]:
        found = validate_connection("http", url, {}, {}, allowed)
        return [p["path"] for p in found]

    assert problems("http://127.0.0.1:8080/", ["127.0.0.1/32"]) == []
    assert problems("http://10.20.1.1/", ["10.20.0.0/16"]) == []
    assert problems("http://10.21.1.1/", ["10.20.0.0/16"]) == ["base_url"]
    assert problems("http://169.254.169.254/", ["169.254.0.0/16", "10.0.0.0/8"]) == [
        "base_url",
        "allowed_networks.0",
    ]
    assert problems("https://panel.test/", ["0.0.0.0/0"]) == ["allowed_networks.0"]


PVE_TOKEN = "root@pam!fluxbilling=0b7c9f5e-6a51-4c1d-9d7e-2f5a8c3b1e40"
PVE_AUTH = {"scheme": "header", "name": "Authorization", "prefix": "PVEAPIToken=", "secret": "t"}


def test_the_header_scheme_may_send_authorization_with_a_vendor_prefix() -> None:
    found = credentials_for("http", {"auth": PVE_AUTH}, {"t": PVE_TOKEN})[None]

    assert dict(found.headers) == {"Authorization": f"PVEAPIToken={PVE_TOKEN}"}


@pytest.mark.anyio
async def test_a_vendor_authorization_header_is_sent_and_redacted_in_the_exchange() -> None:
    seen: list[str | None] = []

    def panel(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={"data": {"version": "8.2"}})

    client = UpstreamHttp(
        "pve",
        "https://pve.example.net:8006/api2/json/",
        transport=httpx.MockTransport(panel),
        secrets=[PVE_TOKEN],
        credentials=credentials_for("http", {"auth": PVE_AUTH}, {"t": PVE_TOKEN}),
    )
    try:
        await client.request("GET", "version", operation="test")
    finally:
        await client.aclose()

    assert seen == [f"PVEAPIToken={PVE_TOKEN}"]
    assert client.recorder.last is not None
    sent = client.recorder.last.request_headers["Authorization"]
    assert PVE_TOKEN not in sent and "fluxbilling=" not in sent


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({**PVE_AUTH, "prefix": "PVEAPIToken=\r\nX-Evil: 1"}, "control characters"),
        ({**PVE_AUTH, "prefix": 7}, "'prefix' must be text"),
        ({**PVE_AUTH, "name": "Bad Name:"}, "is not a header name"),
    ],
)
def test_a_header_prefix_or_name_that_could_split_a_header_is_refused(
    auth: dict[str, Any], message: str
) -> None:
    with pytest.raises(errors.InvalidSettings, match=message):
        credentials_for("http", {"auth": auth}, {"t": PVE_TOKEN})
    [problem] = validate_connection("http", "https://pve.example.net/", {"auth": auth}, {"t": "x"})
    assert problem["path"] == "settings.auth"
    assert message in problem["message"]
