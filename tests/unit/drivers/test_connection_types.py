"""Connection types: authentication schemes, extra credentials and definition checks."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.drivers.connection_types import (
    CONNECTION_TYPES,
    credentials_for,
    validate_connection,
)


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
