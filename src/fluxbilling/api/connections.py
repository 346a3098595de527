"""Connections to upstream systems: create, read, change, delete, test; and the connection types.

Secrets are write-only: requests may set or remove them, responses only name them
(`secret_names`). A validation error never repeats a secret sent with the request, and the
test action's recorded exchange is redacted by the upstream client and cut to a verdict.
Secrets are bound to the base URL's origin: changing its scheme, host or port requires them
again. `allowed_networks` is the admin's explicit allowance of loopback/private networks
for the upstream address policy; the view shows it with when and by whom it was set.
`purpose` marks a connection `production` (the default) or `test` (a simulator or a test
panel): the builder's test of a flow refuses production connections unless an admin allows
one for that test. Creating and changing connections is for admins, and audited (`audit_log`,
with secrets named, never shown).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors, jsontypes
from fluxbilling.api.auth import Admin, require_token
from fluxbilling.api.fields import ONE_LINE, JsonObject, Line, RequestBody, Secret
from fluxbilling.api.rows import Row
from fluxbilling.bootstrap import Installation
from fluxbilling.db import schema
from fluxbilling.drivers import connections
from fluxbilling.drivers.connection_types import CONNECTION_TYPES
from fluxbilling.plugins import probe
from fluxbilling.redaction import Redactor

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["connections"], dependencies=[Depends(require_token)])

Name = Annotated[
    str, StringConstraints(max_length=100), ONE_LINE, Path(description="the connection's name")
]

_AUTH_HELP = (
    "`auth` overrides the type's authentication, e.g. "
    '{"scheme": "header", "name": "X-Api-Key", "secret": "api_key"}, or a vendor format of '
    '`Authorization`: {"scheme": "header", "name": "Authorization", "prefix": "PVEAPIToken=", '
    '"secret": "api_token"}; `secret` names a secret, it never holds one'
)
_NETWORKS_HELP = (
    "loopback, private or shared (100.64/10) networks this connection may reach, in CIDR "
    "form (e.g. 10.20.0.0/16); empty: public addresses only. Link-local and cloud metadata "
    "addresses are never reached"
)
_PURPOSE_HELP = (
    "`production` (the default) or `test` (a simulator or a test panel): the builder's test "
    "of a flow refuses production connections unless an admin allows one for that test"
)
Purpose = Literal["production", "test"]


class ConnectionIn(RequestBody):
    """A new connection; secret values are sealed at rest and never shown again."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    type: Line = Field(max_length=100, description="a name from GET /api/v1/connection-types")
    base_url: str = Field(  # line breaks and controls: the address policy's own check
        max_length=1000,
        description="http(s) URL of the vendor's API, without credentials, query or fragment",
    )
    settings: JsonObject = Field(default_factory=dict, description=_AUTH_HELP)
    secrets: dict[str, Secret] = Field(
        default_factory=dict, description="secret values by name (write-only)"
    )
    allowed_networks: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=32, description=_NETWORKS_HELP
    )
    purpose: Purpose = Field("production", description=_PURPOSE_HELP)


class ConnectionPatch(RequestBody):
    """Changes to a connection; omitted fields stay as they are."""

    base_url: str | None = Field(  # line breaks and controls: the address policy's own check
        None,
        max_length=1000,
        description="a new scheme, host or port requires every secret again in `secrets`",
    )
    settings: JsonObject | None = Field(None, description="replaces the settings whole")
    secrets: dict[str, Secret | None] | None = Field(
        None, description="secrets to set; a null value removes that secret; others stay"
    )
    allowed_networks: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, max_length=32, description=_NETWORKS_HELP + "; replaces the list whole"
    )
    purpose: Purpose | None = Field(None, description=_PURPOSE_HELP)


class ConnectionOut(Row):
    """A connection as shown: its secrets are named, never shown."""

    id: int
    name: str
    type: str
    base_url: str
    settings: jsontypes.JsonObject
    secret_names: list[str]
    allowed_networks: list[str] = Field(description=_NETWORKS_HELP)
    networks_allowed_at: datetime | None = Field(description="when `allowed_networks` was last set")
    networks_allowed_by: str | None = Field(
        description="who set it (a user, `installation-token`, `seed`, ...)"
    )
    purpose: Purpose = Field(description=_PURPOSE_HELP)
    created_at: datetime | None


class ConnectionListOut(BaseModel):
    """Every connection, by name."""

    items: list[ConnectionOut]


class TestResultOut(Row):
    """The answer to the connection type's read-only probe request."""

    ok: bool
    status: int | None = Field(description="the vendor's HTTP status (null: no answer)")
    message: str
    elapsed_ms: float
    exchange: jsontypes.JsonObject | None = Field(
        None,
        description="the request, and the response's status, content type and a short body "
        "snippet; secrets masked",
    )
    probe: str = Field(
        "",
        description="what was probed: `GET <path>` (the connection type's request) or "
        "`plugin <slug>@<version>, flow 'test'`",
    )


class ConnectionTypeOut(BaseModel):
    """A kind of upstream: how it authenticates and which secrets it needs."""

    name: str
    title: str
    secrets: list[str] = Field(description="required secret names")
    optional_secrets: list[str]
    auth: jsontypes.JsonObject = Field(description="the default authentication")


def _installation(request: Request) -> Installation:
    installation: Installation = request.app.state.installation
    return installation


async def _row(conn: AsyncConnection, name: str) -> Any:
    table = schema.connections
    row = (await conn.execute(sa.select(table).where(table.c.name == name))).first()
    if row is None:
        raise errors.NotFound(f"no connection named {name!r}", name=name)
    return row


def _out(row: Any, installation: Installation) -> ConnectionOut:
    return ConnectionOut.model_validate(connections.describe_connection(row, installation.vault))


def _without(exc: errors.InvalidSettings, secrets: Iterable[str]) -> errors.InvalidSettings:
    """The same error with the given secret values masked in its message and details."""
    redactor = Redactor(secrets)
    details: Mapping[str, Any] = redactor.value(exc.details)
    return errors.InvalidSettings(redactor.text(exc.message), **details)


def _changes(before: Any, after: Any, secrets: Mapping[str, str | None]) -> jsontypes.JsonObject:
    """What an update changed, field by field; secrets by name only."""
    changes: jsontypes.JsonObject = {
        column: {"from": getattr(before, column), "to": getattr(after, column)}
        for column in ("base_url", "settings", "allowed_networks", "purpose")
        if getattr(before, column) != getattr(after, column)
    }
    if secrets:
        changes["credentials_set"] = sorted(k for k, v in secrets.items() if v is not None)
        changes["credentials_removed"] = sorted(k for k, v in secrets.items() if v is None)
    return changes


@router.get("/connections", summary="Every connection (secrets named, never shown)")
async def list_connections(request: Request) -> ConnectionListOut:
    """Sorted by name."""
    installation = _installation(request)
    table = schema.connections
    async with installation.db.connect() as conn:
        rows = (await conn.execute(sa.select(table).order_by(table.c.name))).all()
    return ConnectionListOut(items=[_out(row, installation) for row in rows])


@router.get("/connections/{name}", summary="One connection (secrets named, never shown)")
async def get_connection(name: Name, request: Request) -> ConnectionOut:
    """404 when there is no such connection."""
    installation = _installation(request)
    async with installation.db.connect() as conn:
        row = await _row(conn, name)
    return _out(row, installation)


@router.post(
    "/connections",
    status_code=201,
    summary="Create a connection",
    responses={
        403: {"description": "this needs the admin role"},
        409: {"description": "a connection with this name exists"},
        422: {"description": "invalid: `error.details.problems` names each problem"},
    },
)
async def create_connection(body: ConnectionIn, request: Request, who: Admin) -> ConnectionOut:
    """Validates the type, base URL, required secrets and authentication settings (admins)."""
    installation = _installation(request)
    secrets = {key: value.get_secret_value() for key, value in body.secrets.items()}
    try:
        async with installation.db.begin() as conn:
            await connections.create_connection(
                conn,
                installation.vault,
                name=body.name,
                type=body.type,
                base_url=body.base_url,
                secrets=secrets,
                settings=body.settings,
                allowed_networks=body.allowed_networks,
                actor=who.name,
                purpose=body.purpose,
            )
            row = await _row(conn, body.name)
            await audit.record(
                conn,
                actor=who.name,
                action="connection.create",
                entity="connection",
                entity_id=body.name,
                changes={
                    "type": body.type,
                    "base_url": row.base_url,
                    "purpose": body.purpose,
                    "settings": body.settings,
                    "allowed_networks": list(row.allowed_networks or []),
                    "credentials_set": sorted(secrets),
                },
            )
    except errors.InvalidSettings as exc:
        # `from None`: the unmasked original must not travel on as the cause.
        raise _without(exc, secrets.values()) from None
    return _out(row, installation)


@router.patch(
    "/connections/{name}",
    summary="Change a connection's URL, settings or secrets",
    responses={
        403: {"description": "this needs the admin role"},
        422: {"description": "the result would be invalid; nothing was changed"},
    },
)
async def update_connection(
    name: Name, body: ConnectionPatch, request: Request, who: Admin
) -> ConnectionOut:
    """Given secrets replace those of the same name; a null value removes one.

    A base URL with another scheme, host or port needs every stored secret in the same
    request (422 naming each missing one otherwise): a secret goes only to the host it was
    entered for. Admins only.
    """
    installation = _installation(request)
    secrets = {
        key: None if value is None else value.get_secret_value()
        for key, value in (body.secrets or {}).items()
    }
    try:
        async with installation.db.begin() as conn:
            before = await _row(conn, name)
            await connections.update_connection(
                conn,
                installation.vault,
                name,
                base_url=body.base_url,
                settings=body.settings,
                secrets=secrets,
                allowed_networks=body.allowed_networks,
                actor=who.name,
                purpose=body.purpose,
            )
            row = await _row(conn, name)
            await audit.record(
                conn,
                actor=who.name,
                action="connection.update",
                entity="connection",
                entity_id=name,
                changes=_changes(before, row, secrets),
            )
    except errors.InvalidSettings as exc:
        raise _without(exc, [v for v in secrets.values() if v]) from None
    return _out(row, installation)


@router.delete(
    "/connections/{name}",
    status_code=204,
    summary="Delete a connection no product uses",
    responses={
        403: {"description": "this needs the admin role"},
        409: {"description": "a product still uses it (`details.products`)"},
    },
)
async def delete_connection(name: Name, request: Request, who: Admin) -> None:
    """409 while a product uses the connection. Admins only."""
    async with _installation(request).db.begin() as conn:
        await connections.delete_connection(conn, name)
        await audit.record(
            conn, actor=who.name, action="connection.delete", entity="connection", entity_id=name
        )


PluginSlug = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9\-]*$",
        description="test with this plugin's `test` flow (default: the `test` flow of a plugin "
        "a product on this connection uses, else the connection type's probe)",
    ),
]


@router.post(
    "/connections/{name}/test",
    summary="Call the vendor with a read-only request",
    responses={
        404: {"description": "no such connection, or no such plugin"},
        422: {"description": "the plugin asked for has no `test` flow, or another connection type"},
    },
)
async def test_connection(
    name: Name, request: Request, who: Admin, plugin: PluginSlug = None
) -> TestResultOut:
    """`ok` says whether the vendor accepted the credentials; the exchange is redacted.

    The probe is a plugin's `test` flow when one applies (`probe` says which), else the
    connection type's read-only request. The vendor's answer is shown as a verdict (status,
    content type, a short snippet), never in full; an address the upstream address policy
    refuses is never contacted.
    """
    installation = _installation(request)
    flow = await probe.for_connection(
        installation.db, installation.plugins, name, plugin, now=datetime.now(UTC)
    )
    result = await installation.connections.test(name, flow)
    answer = TestResultOut.model_validate(result)
    async with installation.db.begin() as conn:
        await audit.record(
            conn,
            actor=who.name,
            action="connection.test",
            entity="connection",
            entity_id=name,
            changes={"ok": answer.ok, "status": answer.status, "probe": answer.probe},
        )
    return answer


@router.get("/connection-types", summary="The kinds of upstream a connection can be")
async def list_connection_types() -> list[ConnectionTypeOut]:
    """Each with its title, required and optional secret names and default authentication."""
    return [
        ConnectionTypeOut(
            name=kind.name,
            title=kind.title,
            secrets=list(kind.secrets),
            optional_secrets=list(kind.optional_secrets),
            auth=dict(kind.auth),
        )
        for kind in sorted(CONNECTION_TYPES.values(), key=lambda k: k.name)
    ]
