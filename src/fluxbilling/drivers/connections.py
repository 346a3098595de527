"""Connections: a vendor's base URL and credentials, sealed at rest, opened only to make a client.

A connection row holds non-secret `settings` and `secrets_sealed` (a JSON object sealed with
the installation key). `settings["auth"]` says how the secret is presented:

| scheme   | settings                                  | request                               |
|----------|-------------------------------------------|---------------------------------------|
| bearer   | `{"scheme": "bearer", "secret": "token"}` | `Authorization: Bearer <token>`       |
| header   | `{"scheme": "header", "name": "X-Key", "secret": "key"}` | `X-Key: <key>`         |
| basic    | `{"scheme": "basic", "username": "root", "secret": "password"}` | HTTP Basic      |
| whm      | `{"scheme": "whm", "username": "root", "secret": "token"}` | `Authorization: whm root:<token>` |
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors, logs
from fluxbilling.db import Database, schema
from fluxbilling.drivers.upstream import ExchangeRecorder, UpstreamHttp
from fluxbilling.vault import Vault

__all__ = ["ConnectionFactory", "auth_headers", "create_connection"]

TransportFor = Callable[[str], httpx.AsyncBaseTransport | None]


def auth_headers(auth: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, str]:
    """The headers that authenticate a request, per the connection's auth scheme."""
    scheme = auth.get("scheme", "bearer")
    secret_name = auth.get("secret", "api_token")
    if secret_name not in secrets:
        raise errors.InvalidSettings(f"the connection has no secret named {secret_name!r}")
    secret = secrets[secret_name]
    if scheme == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if scheme == "header":
        return {str(auth["name"]): secret}
    if scheme == "basic":
        raw = f"{auth['username']}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
    if scheme == "whm":
        return {"Authorization": f"whm {auth['username']}:{secret}"}
    raise errors.InvalidSettings(f"unknown auth scheme {scheme!r}")


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
    """Store a connection with its secrets sealed; returns its id."""
    result = await conn.execute(
        schema.connections.insert()
        .values(
            name=name,
            type=type,
            base_url=base_url,
            settings=dict(settings or {}),
            secrets_sealed=vault.seal(json.dumps(dict(secrets))),
        )
        .returning(schema.connections.c.id)
    )
    return int(result.scalar_one())


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
        """A client for connection `name`, recording into `recorder`."""
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(schema.connections).where(schema.connections.c.name == name)
                )
            ).first()
        if row is None:
            raise errors.InvalidSettings(f"no connection named {name!r}", connection=name)
        secrets: dict[str, str] = json.loads(self.vault.open(row.secrets_sealed))
        logs.register_secret(*secrets.values())
        headers = {"Accept": "application/json"}
        headers.update(auth_headers(row.settings.get("auth", {}), secrets))
        return UpstreamHttp(
            name,
            row.base_url,
            headers=headers,
            secrets=list(secrets.values()),
            transport=self.transport_for(row.base_url),
            timeout=self.timeout,
            recorder=recorder,
        )
