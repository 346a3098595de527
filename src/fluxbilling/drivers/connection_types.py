"""Connection types: how each kind of upstream authenticates and how to test that it answers.

A connection row has a `type` (a key of `CONNECTION_TYPES`), a base URL, non-secret
`settings` and sealed secrets. The type supplies the default authentication, the secrets it
needs and a cheap read-only *probe* request for the "test connection" action. A connection
may override the authentication in `settings["auth"]` and add named extra credentials in
`settings["credentials"]` (a node picks one with `credential`, e.g. Pterodactyl's client key).

Authentication schemes (`auth["scheme"]`):

| scheme | settings                                            | request                          |
|--------|-----------------------------------------------------|----------------------------------|
| bearer | `{"secret": "api_token"}`                           | `Authorization: Bearer <secret>` |
| header | `{"name": "X-Api-Key", "secret": "api_key"}`        | `X-Api-Key: <secret>`            |
| header | `{"name": "Authorization", "prefix": "PVE=", ...}` | `Authorization: PVE=<secret>`    |
| basic  | `{"username": "root", "secret": "password"}`        | HTTP Basic                       |
| whm    | `{"username": "root", "secret": "api_token"}`       | `Authorization: whm root:<secret>` |
| query  | `{"params": {"apikey": "api_key", ...}}`            | `?apikey=<secret>&...`           |
| none   | `{}`                                                | nothing                          |

`secret` and the values of `params` name secrets of the connection, never hold them. The
`header` scheme's `name` may be any header, `Authorization` included, and its optional
`prefix` (not secret) goes before the secret: a vendor's own `Authorization` format.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from fluxbilling import errors
from fluxbilling.drivers import address_policy
from fluxbilling.drivers.address_policy import IPNetwork
from fluxbilling.drivers.upstream import Credential

__all__ = [
    "CONNECTION_TYPES",
    "SCHEMES",
    "ConnectionType",
    "Probe",
    "base_url_problem",
    "credentials_for",
    "validate_connection",
]

SCHEMES = frozenset({"bearer", "header", "basic", "whm", "query", "none"})


@dataclass(frozen=True, slots=True)
class Probe:
    """A read-only request proving the credentials work, and how to read its answer.

    `ok_path`/`ok_values`: when set, the JSON value at `ok_path` must be one of `ok_values`
    (for vendors that answer HTTP 200 to failures); `error_path` names the vendor's message.
    """

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    ok_path: str | None = None
    ok_values: tuple[Any, ...] = ()
    error_path: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionType:
    """One kind of upstream."""

    name: str
    title: str
    auth: Mapping[str, Any]
    secrets: tuple[str, ...]
    probe: Probe
    optional_secrets: tuple[str, ...] = ()
    credentials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


CONNECTION_TYPES: dict[str, ConnectionType] = {
    t.name: t
    for t in (
        ConnectionType(
            "solusvm2",
            "SolusVM 2 REST API v1 (base URL ends in /api/v1/)",
            {"scheme": "bearer", "secret": "api_token"},
            ("api_token",),
            Probe("plans"),
        ),
        ConnectionType(
            "virtualizor",
            "Virtualizor admin API (base URL https://<master>:4085/)",
            {"scheme": "query", "params": {"adminapikey": "api_key", "adminapipass": "api_pass"}},
            ("api_key", "api_pass"),
            Probe("index.php", {"act": "plans", "api": "json"}, error_path="error"),
        ),
        ConnectionType(
            "pterodactyl",
            "Pterodactyl panel (base URL https://<panel>/api/)",
            {"scheme": "bearer", "secret": "application_key"},
            ("application_key",),
            Probe("application/locations"),
            optional_secrets=("client_key",),
            credentials={"client": {"scheme": "bearer", "secret": "client_key"}},
        ),
        ConnectionType(
            "whm",
            "cPanel & WHM API 1 (base URL https://<server>:2087/json-api/)",
            {"scheme": "whm", "username": "root", "secret": "api_token"},
            ("api_token",),
            Probe(
                "version",
                {"api.version": "1"},
                ok_path="metadata.result",
                ok_values=(1,),
                error_path="metadata.reason",
            ),
        ),
        ConnectionType(
            "cloudflare",
            "Cloudflare API v4 (base URL https://api.cloudflare.com/client/v4/; an API token "
            "with Zone:Read and DNS:Edit)",
            {"scheme": "bearer", "secret": "api_token"},
            ("api_token",),
            Probe(
                "user/tokens/verify",
                ok_path="result.status",
                ok_values=("active",),
                error_path="errors",
            ),
        ),
        ConnectionType(
            "netbox",
            "NetBox REST API (base URL https://<netbox>/api/; a v2 token nbt_<key>.<secret> "
            "allowed to write DCIM and IPAM objects)",
            {"scheme": "bearer", "secret": "api_token"},
            ("api_token",),
            Probe("status/"),
        ),
        ConnectionType(
            "http",
            "Any HTTP API (authentication from the connection's settings)",
            {"scheme": "none"},
            (),
            Probe(""),
        ),
    )
}
"""Known connection types by name; a plugin's `connectionType` must be one of them."""


def _headers_and_params(auth: Mapping[str, Any], secrets: Mapping[str, str]) -> Credential:
    scheme = auth.get("scheme", "bearer")

    def secret(name: Any) -> str:
        if not isinstance(name, str) or name not in secrets:
            raise errors.InvalidSettings(f"the connection has no secret named {name!r}")
        return secrets[name]

    if scheme == "none":
        return Credential()
    if scheme == "query":
        params = auth.get("params")
        if not isinstance(params, Mapping) or not params:
            raise errors.InvalidSettings("auth scheme 'query' needs 'params'")
        return Credential(params={str(k): secret(v) for k, v in params.items()})
    value = secret(auth.get("secret", "api_token"))
    if scheme == "bearer":
        return Credential(headers={"Authorization": f"Bearer {value}"})
    if scheme == "header":
        return Credential(headers={_header_name(auth): _header_prefix(auth) + value})
    if scheme in ("basic", "whm"):
        username = auth.get("username")
        if not isinstance(username, str) or not username:
            raise errors.InvalidSettings(f"auth scheme {scheme!r} needs 'username'")
        if scheme == "whm":
            return Credential(headers={"Authorization": f"whm {username}:{value}"})
        raw = f"{username}:{value}".encode()
        return Credential(
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        )
    raise errors.InvalidSettings(f"unknown auth scheme {scheme!r} ({', '.join(sorted(SCHEMES))})")


def _header_name(auth: Mapping[str, Any]) -> str:
    name = auth.get("name") or "X-Api-Key"
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise errors.InvalidSettings(f"auth scheme 'header': {name!r} is not a header name")
    return name


def _header_prefix(auth: Mapping[str, Any]) -> str:
    prefix = auth.get("prefix", "")
    if not isinstance(prefix, str) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in prefix):
        raise errors.InvalidSettings(
            "auth scheme 'header': 'prefix' must be text without control characters"
        )
    return prefix


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")
"""An HTTP header name (RFC 9110 token)."""


def credentials_for(
    type_name: str, settings: Mapping[str, Any], secrets: Mapping[str, str]
) -> dict[str | None, Credential]:
    """The credentials of a connection: `None` is the default one.

    Args:
        type_name: the connection's type.
        settings: its non-secret settings (`auth` and `credentials` override the type's).
        secrets: its opened secrets.

    Returns:
        Credentials by name; extra credentials whose secret is absent are left out.

    Raises:
        errors.InvalidSettings: unknown type or scheme, or a missing required secret.
    """
    kind = CONNECTION_TYPES.get(type_name)
    if kind is None:
        raise errors.InvalidSettings(f"unknown connection type {type_name!r}")
    found: dict[str | None, Credential] = {
        None: _headers_and_params(settings.get("auth") or kind.auth, secrets)
    }
    extra = {**kind.credentials, **(settings.get("credentials") or {})}
    for name, auth in extra.items():
        try:
            found[str(name)] = _headers_and_params(auth, secrets)
        except errors.InvalidSettings:
            if name not in (settings.get("credentials") or {}):
                continue  # an optional credential of the type whose secret was not given
            raise
    return found


def base_url_problem(base_url: str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """What is wrong with a connection's base URL, or `None` when nothing is.

    A base URL is an absolute http(s) URL with a host, without credentials, query, fragment,
    spaces or control characters; a host that is an address literal (or `localhost`) must
    pass the upstream address policy with the connection's `allowed` networks. Names are
    resolved and checked when connected to, not here.

    Examples:
        >>> base_url_problem("https://panel.example.com:4085/")
        >>> base_url_problem("http://169.254.169.254/latest/")
        '169.254.169.254 is a cloud metadata address: never reached (upstream address policy)'
    """
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in base_url):
        return "must not contain spaces or control characters (such as a line break)"
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "must be an http(s) URL"
    if "@" in parts.netloc:
        return "must not contain credentials (user:password@); store them as secrets"
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        return "must not have a query or a fragment"
    try:
        host = httpx.URL(base_url).host
        _ = parts.port
    except (httpx.InvalidURL, ValueError) as exc:
        return f"is not a valid URL ({exc})"
    if not host:
        return "names no host"
    verdict = address_policy.static_verdict(host, allowed)
    if verdict is not None and not verdict.allowed:
        return f"{verdict.reason} (upstream address policy)"
    return None


def validate_connection(
    type_name: str,
    base_url: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str],
    allowed_networks: Sequence[str] = (),
) -> list[dict[str, str]]:
    """Problems with a connection definition, as `{"path", "message"}` (empty when valid).

    Args:
        type_name: a key of `CONNECTION_TYPES`.
        base_url: the vendor API's base URL (see `base_url_problem`).
        settings: the non-secret settings (`auth`, `credentials`).
        secrets: the secret values by name.
        allowed_networks: loopback/private networks this connection may reach
            (see `address_policy.parse_allowed`).
    """
    problems: list[dict[str, str]] = []
    kind = CONNECTION_TYPES.get(type_name)
    if kind is None:
        known = ", ".join(sorted(CONNECTION_TYPES))
        return [{"path": "type", "message": f"unknown connection type {type_name!r} ({known})"}]
    allowed, bad = address_policy.parse_allowed(allowed_networks)
    url_problem = base_url_problem(base_url, allowed)
    if url_problem is not None:
        problems.append({"path": "base_url", "message": url_problem})
    problems.extend({"path": f"allowed_networks.{i}", "message": m} for i, m in bad)
    for name in kind.secrets:
        if not secrets.get(name):
            problems.append({"path": f"secrets.{name}", "message": "required by " + kind.name})
    if not problems:
        try:
            credentials_for(type_name, settings, secrets)
        except errors.InvalidSettings as exc:
            problems.append({"path": "settings.auth", "message": exc.message})
    return problems
