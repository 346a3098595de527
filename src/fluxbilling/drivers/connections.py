"""Connections: a vendor's base URL and credentials, sealed at rest, opened only to make a client.

A connection row holds its `type` (see `drivers.connection_types`), non-secret `settings`,
`secrets_sealed` (a JSON object sealed with the installation key) and `allowed_networks`:
the loopback/private networks the upstream address policy lets it reach (see
`drivers.address_policy`), set explicitly by an admin and recorded with who and when.
Secrets leave this module only inside an `UpstreamHttp`'s headers or query, which redacts
them everywhere; the public description of a connection names its secrets but never shows
them. A secret is bound to the origin (scheme, host, port) it was entered for: changing the
base URL's origin requires every secret again. `purpose` says whether a connection reaches
production (the default) or a test panel: the builder tests flows against test connections
(`PURPOSES`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors, logs
from fluxbilling.db import Database, schema
from fluxbilling.drivers import address_policy, probing
from fluxbilling.drivers.address_guard import GuardedTransport, Resolver, SystemResolver
from fluxbilling.drivers.connection_types import (
    CONNECTION_TYPES,
    base_url_problem,
    credentials_for,
    validate_connection,
)
from fluxbilling.drivers.upstream import ExchangeRecorder, UpstreamHttp
from fluxbilling.jsontypes import JsonObject
from fluxbilling.redaction import MASK
from fluxbilling.vault import Vault

__all__ = [
    "PURPOSES",
    "ConnectionFactory",
    "ConnectionInfo",
    "ProbeResult",
    "create_connection",
    "delete_connection",
    "describe_connection",
    "flow_fields",
    "secret_names",
    "update_connection",
]

TransportFor = Callable[[str], httpx.AsyncBaseTransport | None]
table = schema.connections
log = logging.getLogger(__name__)

PURPOSES = ("production", "test")
"""What a connection reaches: production (its default), or a test panel or simulator."""

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@")


def _reject(problems: list[dict[str, str]], name: str) -> None:
    if problems:
        raise errors.InvalidSettings(
            f"connection {name!r} is invalid: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            problems=problems,
        )


def flow_fields(connection: Mapping[str, Any]) -> dict[str, Any]:
    """A connection as flows see it (`{{connection.…}}`): no secrets, plus URL parts.

    Example:
        >>> flow_fields({"name": "a", "base_url": "https://p.example:8443/v2/"})["origin"]
        'https://p.example:8443'
    """
    base = str(connection.get("base_url") or "")
    parts = urlsplit(base)
    return {
        "name": connection.get("name"),
        "type": connection.get("type"),
        "base_url": base,
        "origin": f"{parts.scheme}://{parts.netloc}" if parts.netloc else "",
        "host": parts.hostname or "",
    }


def secret_names(vault: Vault, sealed: str) -> list[str]:
    """The names of a connection's secrets, sorted; the values never leave this function.

    Args:
        vault: opens the sealed secrets.
        sealed: the row's `secrets_sealed` ("" means no secrets).

    Raises:
        errors.InvalidSettings: the installation key cannot open them.
    """
    if not sealed:
        return []
    return sorted(json.loads(vault.open(sealed)))


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """The public form of a connection: everything but its secrets, which are only named.

    Attributes:
        base_url: with any credentials in it masked.
        secret_names: None when the secrets were not opened (no vault given).
    """

    id: int
    name: str
    type: str
    base_url: str
    settings: JsonObject
    secret_names: list[str] | None
    allowed_networks: list[str]
    networks_allowed_at: datetime | None
    networks_allowed_by: str | None
    created_at: datetime | None
    purpose: str = "production"


def describe_connection(row: Any, vault: Vault | None = None) -> ConnectionInfo:
    """The public form of a `connections` row.

    Args:
        row: a `connections` row.
        vault: given, the secrets are opened to list their names (`secret_names`);
            without it `secrets_sealed` is not opened.
    """
    return ConnectionInfo(
        id=row.id,
        name=row.name,
        type=row.type,
        # Credentials in a URL are refused now; one stored earlier is still never shown.
        base_url=_USERINFO.sub(rf"\1{MASK}@", row.base_url),
        settings=dict(row.settings or {}),
        secret_names=None if vault is None else secret_names(vault, row.secrets_sealed),
        allowed_networks=list(row.allowed_networks or []),
        networks_allowed_at=row.networks_allowed_at,
        networks_allowed_by=row.networks_allowed_by,
        created_at=row.created_at,
        purpose=row.purpose,
    )


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The verdict of a connection test (`ConnectionFactory.test`).

    Attributes:
        ok: whether the vendor accepted the credentials.
        status: the vendor's HTTP status (None: no answer).
        exchange: the redacted request and a trimmed response; None when nothing was sent.
    """

    ok: bool
    status: int | None
    message: str
    elapsed_ms: float
    exchange: JsonObject | None = None
    probe: str = ""
    """What was probed: the connection type's request, or a plugin's `test` flow."""


def _normalised_networks(values: Sequence[str]) -> list[str]:
    """`allowed_networks` as stored: CIDR text, in the order given, without repeats."""
    networks, _ = address_policy.parse_allowed(values)
    return list(dict.fromkeys(str(n) for n in networks))


def _audit_allowance(name: str, networks: list[str], actor: str) -> None:
    """The structured log line of an admin's allowance (the row keeps who and when)."""
    log.warning(
        "connection %s: upstream address policy allowance set to %s by %s",
        name,
        ", ".join(networks) or "nothing (public addresses only)",
        actor,
        extra={"upstream": name},
    )


async def create_connection(
    conn: AsyncConnection,
    vault: Vault,
    *,
    name: str,
    type: str,
    base_url: str,
    secrets: Mapping[str, str],
    settings: Mapping[str, Any] | None = None,
    allowed_networks: Sequence[str] = (),
    actor: str = "api",
    purpose: str = "production",
) -> int:
    """Validate and store a connection with its secrets sealed.

    Args:
        conn: the caller's transaction.
        vault: seals the secrets.
        name: unique name.
        type: a key of `CONNECTION_TYPES`.
        base_url: the vendor API's base URL.
        secrets: secret values by name.
        settings: non-secret settings.
        allowed_networks: loopback/private networks this connection may reach (an admin's
            explicit allowance; empty: public addresses only).
        actor: who allows them, recorded with the allowance (`api`, `seed`, ...).
        purpose: `production` or `test` (`PURPOSES`).

    Returns:
        The new connection's id.

    Raises:
        errors.InvalidSettings: the type, base URL, allowed networks, secrets or auth
            settings are wrong (`details["problems"]` names each).
        errors.Conflict: a connection with this name exists.
    """
    _reject(
        validate_connection(type, base_url, settings or {}, secrets, allowed_networks)
        + _purpose_problems(purpose),
        name,
    )
    networks = _normalised_networks(allowed_networks)
    exists = await conn.execute(sa.select(table.c.id).where(table.c.name == name))
    if exists.first() is not None:
        raise errors.Conflict(f"a connection named {name!r} already exists", name=name)
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                table.insert()
                .values(
                    name=name,
                    type=type,
                    base_url=base_url,
                    settings=dict(settings or {}),
                    secrets_sealed=vault.seal(json.dumps(dict(secrets))),
                    allowed_networks=networks,
                    networks_allowed_at=sa.func.now() if networks else None,
                    networks_allowed_by=actor if networks else None,
                    purpose=purpose,
                )
                .returning(table.c.id)
            )
    except sa.exc.IntegrityError as exc:  # created by a concurrent request meanwhile
        raise errors.Conflict(f"a connection named {name!r} already exists", name=name) from exc
    if networks:
        _audit_allowance(name, networks, actor)
    return int(result.scalar_one())


def _purpose_problems(purpose: str | None) -> list[dict[str, str]]:
    if purpose is None or purpose in PURPOSES:
        return []
    return [{"path": "purpose", "message": f"must be one of {', '.join(PURPOSES)}"}]


async def _row(conn: AsyncConnection, name: str, *, lock: bool = False) -> Any:
    query = sa.select(table).where(table.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(f"no connection named {name!r}", name=name)
    return row


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """`(scheme, host, port)` of a URL, default ports filled in; `None` when unreadable."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.scheme, parsed.host.rstrip("."), port


def _secrets_left_behind(
    old_url: str, new_url: str, stored: Mapping[str, str], given: Mapping[str, str | None]
) -> list[dict[str, str]]:
    """Problems when the origin changes but stored secrets were not given again."""
    old_origin = _origin(old_url)
    if old_origin is not None and old_origin == _origin(new_url):
        return []
    return [
        {
            "path": f"secrets.{key}",
            "message": "the base URL's scheme, host or port changed: give this secret again "
            "(or null to remove it); a secret goes only to the host it was entered for",
        }
        for key in sorted(stored)
        if key not in given
    ]


async def update_connection(
    conn: AsyncConnection,
    vault: Vault,
    name: str,
    *,
    base_url: str | None = None,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str | None] | None = None,
    allowed_networks: Sequence[str] | None = None,
    actor: str = "api",
    purpose: str | None = None,
) -> None:
    """Change a connection; given secrets replace (or, when `None`, remove) those named.

    Changing the base URL's origin (scheme, host or port) requires every stored secret
    again, so a secret never follows the URL to a host it was not entered for.

    Args:
        conn: the caller's transaction.
        vault: opens and seals the secrets.
        name: the connection.
        base_url: the new base URL (`None`: unchanged).
        settings: the new settings, whole (`None`: unchanged).
        secrets: secrets to set, or to remove (`None` values).
        allowed_networks: the new allowance, whole (`None`: unchanged).
        actor: who changes the allowance, recorded with it.
        purpose: `production` or `test` (`None`: unchanged).

    Raises:
        errors.NotFound: no such connection.
        errors.InvalidSettings: the result would be invalid (nothing is changed).
    """
    row = await _row(conn, name, lock=True)
    stored: dict[str, str] = json.loads(vault.open(row.secrets_sealed))
    merged = dict(stored)
    for key, value in (secrets or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    new_url = row.base_url if base_url is None else base_url
    new_settings = dict(row.settings or {}) if settings is None else dict(settings)
    old_networks = list(row.allowed_networks or [])
    networks = old_networks if allowed_networks is None else list(allowed_networks)
    problems = validate_connection(row.type, new_url, new_settings, merged, networks)
    problems += _secrets_left_behind(row.base_url, new_url, stored, secrets or {})
    problems += _purpose_problems(purpose)
    _reject(problems, name)
    networks = _normalised_networks(networks)
    values: dict[str, Any] = {
        "base_url": new_url,
        "settings": new_settings,
        "secrets_sealed": vault.seal(json.dumps(merged)),
    }
    if purpose is not None:
        values["purpose"] = purpose
    changed = networks != old_networks
    if changed:
        values |= {
            "allowed_networks": networks,
            "networks_allowed_at": sa.func.now(),
            "networks_allowed_by": actor,
        }
    await conn.execute(table.update().where(table.c.id == row.id).values(**values))
    if changed:
        _audit_allowance(name, networks, actor)


async def delete_connection(conn: AsyncConnection, name: str) -> None:
    """Delete a connection no product uses.

    Raises:
        errors.NotFound: no such connection.
        errors.Conflict: a product still uses it.
    """
    row = await _row(conn, name, lock=True)
    users = (
        await conn.execute(
            sa.select(schema.products.c.slug).where(schema.products.c.connection_id == row.id)
        )
    ).scalars()
    slugs = sorted(users)
    if slugs:
        raise errors.Conflict(
            f"connection {name!r} is used by product(s) {', '.join(slugs)}", products=slugs
        )
    await conn.execute(table.delete().where(table.c.id == row.id))


class ConnectionFactory:
    """Makes an `UpstreamHttp` for a named connection.

    Every client it makes sends through a `GuardedTransport`: the upstream address policy
    with the connection's `allowed_networks`, resolving each host once through `resolver`.

    Args:
        db: where connections live.
        vault: opens the sealed secrets.
        transport_for: optional transport per base URL (in-process simulators in tests);
            the policy still decides which address it is sent to.
        timeout: seconds per request.
        resolver: turns host names into addresses (default: the system's resolver).
    """

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        transport_for: TransportFor | None = None,
        timeout: float = 10.0,
        resolver: Resolver | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.transport_for = transport_for or (lambda _url: None)
        self.timeout = timeout
        self.resolver: Resolver = resolver or SystemResolver()

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        """A client for connection `name`, recording into `recorder`.

        Raises:
            errors.InvalidSettings: there is no such connection, or its base URL, allowed
                networks or settings are broken (a row stored before they were checked).
        """
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.name == name))).first()
        if row is None:
            raise errors.InvalidSettings(f"no connection named {name!r}", connection=name)
        allowed, bad = address_policy.parse_allowed(row.allowed_networks or [])
        problem = base_url_problem(row.base_url, allowed)
        if problem is not None or bad:
            shown = describe_connection(row).base_url
            raise errors.InvalidSettings(
                f"connection {name!r}: base_url {shown!r} "
                + (problem or "; ".join(message for _, message in bad)),
                connection=name,
            )
        secrets: dict[str, str] = json.loads(self.vault.open(row.secrets_sealed))
        logs.register_secret(*secrets.values())
        inner = self.transport_for(row.base_url) or httpx.AsyncHTTPTransport()
        return UpstreamHttp(
            name,
            row.base_url,
            headers={"Accept": "application/json"},
            secrets=list(secrets.values()),
            transport=GuardedTransport(
                inner, resolver=self.resolver, allowed=allowed, upstream=name
            ),
            timeout=self.timeout,
            recorder=recorder,
            credentials=credentials_for(row.type, row.settings or {}, secrets),
            # No proxies or .netrc from the environment: the policy must see where we connect.
            trust_env=False,
        )

    async def test(self, name: str, probe: probing.CustomProbe | None = None) -> ProbeResult:
        """Call the vendor with the connection type's read-only probe request (or `probe`).

        The answer is a verdict, not a proxy: the vendor's body is shown only as a short,
        redacted snippet, so the test action cannot be used to read what a URL serves.

        Args:
            name: the connection.
            probe: what to send instead of the type's probe request (a plugin's `test`
                flow); it gets this connection's client, policy and redaction included.

        Returns:
            The verdict; its exchange is redacted and its response holds the status,
            content type and a body snippet only.

        Raises:
            errors.NotFound: no such connection.
        """
        async with self.db.connect() as conn:
            row = await _row(conn, name)
        recorder = ExchangeRecorder()
        started = time.monotonic()
        ok, status, message = False, None, "no answer"
        kind = CONNECTION_TYPES.get(row.type)
        try:
            if kind is None:
                raise errors.InvalidSettings(f"unknown connection type {row.type!r}")
            client = await self.client(name, recorder)
        except errors.InvalidSettings as exc:
            return ProbeResult(ok=False, status=None, message=exc.message, elapsed_ms=0)
        typed = kind.probe
        label = probe.label if probe is not None else f"GET {typed.path or '(the base URL)'}"
        try:
            if probe is not None:
                ok, message = await probe(client)
                status = recorder.last.status if recorder.last else None
            else:
                response = await client.request(
                    "GET", typed.path, operation="test connection", params=dict(typed.params)
                )
                status = response.status_code
                ok, message = probing.verdict(typed, response)
        except errors.UpstreamError as exc:
            status = exc.status
            # A plugin's own words (a `fail` node, a classify rule) say more than a status.
            plain = status is None or probe is not None
            message = exc.message if plain else f"the vendor answered HTTP {status}"
        finally:
            await client.aclose()
        message = probing.snippet(client.redactor.text(message))  # a vendor may echo what we sent
        return ProbeResult(
            ok=ok,
            status=status,
            message=message,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            exchange=probing.trimmed(recorder.last.to_dict()) if recorder.last else None,
            probe=label,
        )
