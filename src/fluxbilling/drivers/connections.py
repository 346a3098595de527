"""Connections: a vendor's base URL and credentials, sealed at rest, opened only to make a client.

A connection row holds its `type` (see `drivers.connection_types`), non-secret `settings`
and `secrets_sealed` (a JSON object sealed with the installation key). Secrets leave this
module only inside an `UpstreamHttp`'s headers or query, which redacts them everywhere; the
public description of a connection names its secrets but never shows them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors, limits, logs
from fluxbilling.db import Database, schema
from fluxbilling.drivers.connection_types import (
    CONNECTION_TYPES,
    Probe,
    credentials_for,
    validate_connection,
)
from fluxbilling.drivers.upstream import ExchangeRecorder, UpstreamHttp
from fluxbilling.vault import Vault

__all__ = [
    "ConnectionFactory",
    "create_connection",
    "delete_connection",
    "describe_connection",
    "secret_names",
    "update_connection",
]

TransportFor = Callable[[str], httpx.AsyncBaseTransport | None]
table = schema.connections


def _reject(problems: list[dict[str, str]], name: str) -> None:
    if problems:
        raise errors.InvalidSettings(
            f"connection {name!r} is invalid: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            problems=problems,
        )


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


def describe_connection(row: Any, vault: Vault | None = None) -> dict[str, Any]:
    """The public form of a connection row: everything but the secrets, which are only named.

    Args:
        row: a `connections` row.
        vault: given, the secrets are opened to list their names (`secret_names`);
            without it `secrets_sealed` is not opened and the names are left out.

    Returns:
        `id`, `name`, `type`, `base_url`, `settings`, `created_at` (and `secret_names`).
    """
    described = {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "base_url": row.base_url,
        "settings": dict(row.settings or {}),
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }
    if vault is not None:
        described["secret_names"] = secret_names(vault, row.secrets_sealed)
    return described


async def create_connection(
    conn: AsyncConnection,
    vault: Vault,
    *,
    name: str,
    type: str,
    base_url: str,
    secrets: Mapping[str, str],
    settings: Mapping[str, Any] | None = None,
) -> int:
    """Validate and store a connection with its secrets sealed.

    Returns:
        The new connection's id.

    Raises:
        errors.InvalidSettings: the type, base URL, secrets or auth settings are wrong
            (`details["problems"]` names each).
        errors.Conflict: a connection with this name exists.
    """
    _reject(validate_connection(type, base_url, settings or {}, secrets), name)
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
                )
                .returning(table.c.id)
            )
    except sa.exc.IntegrityError as exc:  # created by a concurrent request meanwhile
        raise errors.Conflict(f"a connection named {name!r} already exists", name=name) from exc
    return int(result.scalar_one())


async def _row(conn: AsyncConnection, name: str, *, lock: bool = False) -> Any:
    query = sa.select(table).where(table.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(f"no connection named {name!r}", name=name)
    return row


async def update_connection(
    conn: AsyncConnection,
    vault: Vault,
    name: str,
    *,
    base_url: str | None = None,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str | None] | None = None,
) -> None:
    """Change a connection; given secrets replace (or, when `None`, remove) those named.

    Raises:
        errors.NotFound: no such connection.
        errors.InvalidSettings: the result would be invalid (nothing is changed).
    """
    row = await _row(conn, name, lock=True)
    merged: dict[str, str] = json.loads(vault.open(row.secrets_sealed))
    for key, value in (secrets or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    new_url = row.base_url if base_url is None else base_url
    new_settings = dict(row.settings or {}) if settings is None else dict(settings)
    _reject(validate_connection(row.type, new_url, new_settings, merged), name)
    await conn.execute(
        table.update()
        .where(table.c.id == row.id)
        .values(
            base_url=new_url,
            settings=new_settings,
            secrets_sealed=vault.seal(json.dumps(merged)),
        )
    )


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

    Args:
        db: where connections live.
        vault: opens the sealed secrets.
        transport_for: optional transport per base URL (in-process simulators in tests).
        timeout: seconds per request.
    """

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        transport_for: TransportFor | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.vault = vault
        self.transport_for = transport_for or (lambda _url: None)
        self.timeout = timeout

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        """A client for connection `name`, recording into `recorder`.

        Raises:
            errors.InvalidSettings: there is no such connection or its settings are broken.
        """
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.name == name))).first()
        if row is None:
            raise errors.InvalidSettings(f"no connection named {name!r}", connection=name)
        secrets: dict[str, str] = json.loads(self.vault.open(row.secrets_sealed))
        logs.register_secret(*secrets.values())
        return UpstreamHttp(
            name,
            row.base_url,
            headers={"Accept": "application/json"},
            secrets=list(secrets.values()),
            transport=self.transport_for(row.base_url),
            timeout=self.timeout,
            recorder=recorder,
            credentials=credentials_for(row.type, row.settings or {}, secrets),
        )

    async def test(self, name: str) -> dict[str, Any]:
        """Call the vendor with the connection type's read-only probe request.

        Returns:
            `{"ok", "status", "message", "elapsed_ms", "exchange"}`; the exchange is redacted.

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
            return {"ok": False, "status": None, "message": exc.message, "elapsed_ms": 0}
        probe = kind.probe
        try:
            response = await client.request(
                "GET", probe.path, operation="test connection", params=dict(probe.params)
            )
            status = response.status_code
            ok, message = _probe_verdict(probe, response)
        except errors.UpstreamError as exc:
            status, message = exc.status, exc.message
        finally:
            await client.aclose()
        message = client.redactor.text(message)  # a vendor may echo what we sent
        return {
            "ok": ok,
            "status": status,
            "message": message,
            "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            "exchange": recorder.last.to_dict() if recorder.last else None,
        }


_ABSENT = object()


def _at(body: Any, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(body, Mapping) or segment not in body:
            return _ABSENT
        body = body[segment]
    return body


def _probe_verdict(probe: Probe, response: httpx.Response) -> tuple[bool, str]:
    try:
        body = limits.loads_json(response.content)
    except ValueError:  # not JSON, not UTF-8 or nested too deep
        body = None
    if probe.ok_path is not None:
        value = _at(body, probe.ok_path)
        if value not in probe.ok_values:
            reason = _at(body, probe.error_path) if probe.error_path else _ABSENT
            shown = value if reason is _ABSENT else reason
            return False, f"the vendor refused: {shown if shown is not _ABSENT else 'no answer'}"
    elif probe.error_path is not None:
        error = _at(body, probe.error_path)
        if error not in (_ABSENT, None, "", [], {}):
            return False, f"the vendor answered an error: {json.dumps(error)[:300]}"
    return True, f"HTTP {response.status_code}"
