"""Testing a flow without touching production: run one verb against a test connection, traced.

`POST /api/v1/plugins/test-runs` runs one lifecycle verb of a plugin (a stored version, or an
unsaved `document` validated exactly like a save) against a chosen connection, with inputs
typed in or rebuilt from a past run (`from_run`), and answers what each node did
(`plugins.testrun`). Nothing is written to orders, services, runs, checkpoints or activity.
A flow that waits (`poll`, `wait`) answers `pending` with `check_after` and a `resume_token`
(`plugins.resume`), which `POST /api/v1/plugins/test-runs/resume` takes back. The verb
`test` runs the plugin's connection probe as "test connection" does: it sees only
`connection`, so it takes no inputs, and it must answer without waiting.

Safety: every connection the flow reaches must be marked `purpose: test`. A production one is
refused (409) unless the body says `allow_production: true` and the caller is an admin; both
the refusal and the allowance are audited with the caller's name. Secrets never appear in
an answer: exchanges, outputs and errors are redacted with the connections' secrets and the
test's credentials (given in `inputs.credentials`, or generated).
"""

from __future__ import annotations

import dataclasses
import secrets as random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import Field, StringConstraints, model_validator

from fluxbilling import audit, errors
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.api.auth import Operator, require_token
from fluxbilling.api.fields import ONE_LINE, JsonObject, RequestBody, RowId, Secret, Version
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.bootstrap import Installation
from fluxbilling.db import schema
from fluxbilling.drivers.connections import flow_fields
from fluxbilling.drivers.driver import Verb
from fluxbilling.jsontypes import JsonObject as Json
from fluxbilling.orders.flow_inputs import past_inputs, test_context
from fluxbilling.plugins import resume, testrun
from fluxbilling.plugins.document import TEST_FLOW
from fluxbilling.plugins.driver import FlowDriver
from fluxbilling.plugins.graph import LoadedPlugin

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/plugins", tags=["plugin tests"], dependencies=[Depends(require_token)]
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=100), ONE_LINE]
_CONTEXT = "a JSON object, as the flow context has it (see docs/plugins.md)"


class FlowInputsIn(RequestBody):
    """The flow context a test runs with; every part is optional.

    `options` and `settings` are the same object (give either); `connection` is always the
    chosen connection's (a value given here is replaced); `credentials` values are secrets:
    redacted everywhere, and generated (`root_password`, `password`) when not given.
    """

    order: JsonObject | None = Field(None, description=_CONTEXT + ", e.g. {id, hostname}")
    customer: JsonObject | None = Field(None, description=_CONTEXT)
    product: JsonObject | None = Field(None, description=_CONTEXT)
    options: JsonObject | None = Field(None, description="the product's options")
    settings: JsonObject | None = Field(None, description="the same as `options`")
    image: JsonObject | None = Field(None, description=_CONTEXT)
    location: JsonObject | None = Field(None, description=_CONTEXT)
    connection: JsonObject | None = Field(None, description="ignored: the chosen connection's")
    service: JsonObject | None = Field(None, description="the service's data")
    allocation: JsonObject | None = Field(None, description="{address, host, gateway, cidr}")
    account: JsonObject | None = Field(None, description="{username} (generated when omitted)")
    action: JsonObject | None = Field(None, description="{verb, params, reason}")
    cloud_init: JsonObject | None = Field(None, description="{user_data, meta_data, ...}")
    credentials: dict[Annotated[str, Field(max_length=64)], Secret] | None = Field(
        None, max_length=16, description="secret values by name (write-only, redacted)"
    )


class TestRunIn(RequestBody):
    """What to test: a plugin, a verb, a connection, and inputs."""

    __test__ = False  # not a pytest test class

    document: JsonObject | None = Field(
        None, description="an unsaved plugin document, validated exactly like a save"
    )
    slug: Name | None = Field(None, description="a stored plugin (instead of `document`)")
    version: Version | None = Field(None, description="its version (default: the newest)")
    verb: Verb | Literal["test"] = Field(
        description="a lifecycle verb, or `test`: the plugin's connection probe (no inputs)"
    )
    connection: Name = Field(description="the connection the flow's nodes use")
    inputs: FlowInputsIn | None = Field(None, description="the flow context, typed in")
    from_run: RowId | None = Field(
        None, description="take the inputs from this run (GET /api/v1/runs/{id}/flow-context)"
    )
    allow_production: bool = Field(
        False, description="admins only: allow connections marked `production`"
    )

    @model_validator(mode="after")
    def _one_plugin_and_one_source(self) -> TestRunIn:
        if (self.document is None) == (self.slug is None):
            raise ValueError("give either `document` (an unsaved plugin) or `slug`")
        if self.version is not None and self.slug is None:
            raise ValueError("`version` goes with `slug`")
        if self.inputs is not None and self.from_run is not None:
            raise ValueError("give `inputs` or `from_run`, not both")
        if self.verb == TEST_FLOW and (self.inputs is not None or self.from_run is not None):
            raise ValueError(
                "the `test` flow sees only the connection: give neither `inputs` nor `from_run`"
            )
        return self


class ResumeIn(RequestBody):
    """A paused test to resume."""

    token: Annotated[
        str, StringConstraints(min_length=1, max_length=resume.MAX_TOKEN_BYTES), ONE_LINE
    ] = Field(description="the `resume_token` of a `pending` answer")


class TraceStepOut(Row):
    """What one node did (redacted; a value too large is shown as `{truncated, bytes, preview}`)."""

    index: int
    node: str
    type: str
    label: str | None
    input: Any = Field(description="the previous node's output")
    output: Any
    port: str | None = Field(description="the port it fired (null: ended, waited or failed)")
    wait_seconds: float | None = Field(description="it suspended the flow for this long")
    service_data: Json | None = Field(description="what it merged into the service data")
    exchanges: list[Json] = Field(
        description="its upstream requests and responses, in order, secrets masked"
    )
    error: Json | None = Field(description="the classified error it raised")
    elapsed_ms: float
    resumed: bool = Field(description="it ran again after its own wait")


class TestRunOut(Row):
    """How the test ended, and the trace of the nodes it ran in this call."""

    __test__ = False  # not a pytest test class

    status: testrun.TestStatus
    plugin: str = Field(description="`slug@version`, or `slug (unsaved)`")
    verb: str
    connection: str
    steps: list[TraceStepOut]
    service_data: Json = Field(description="what set_service_data nodes produced so far")
    result: Any = Field(description="the last node's output, when done")
    error: Json | None = Field(description="the normalized error `{code, message, details}`")
    check_after: float | None = Field(description="pending: seconds to wait before resuming")
    resume_token: str | None = Field(
        description="pending: POST it to /api/v1/plugins/test-runs/resume (sealed, opaque)"
    )
    expires_at: Timestamp | None = Field(description="when `resume_token` stops being accepted")
    truncated: bool = Field(description="some value of the trace was too large and is cut")


def _installation(request: Request) -> Installation:
    installation: Installation = request.app.state.installation
    return installation


async def _plugin(
    installation: Installation, document: Json | None, slug: str | None, version: int | None
) -> LoadedPlugin:
    if document is not None:
        return await installation.plugins.validate(document)
    return await installation.plugins.get(str(slug), version)


def _label(plugin: LoadedPlugin, unsaved: bool) -> str:
    return f"{plugin.slug} (unsaved)" if unsaved else f"{plugin.slug}@{plugin.version}"


def _problem(path: str, message: str) -> errors.InvalidSettings:
    return errors.InvalidSettings(message, problems=[{"path": path, "message": message}])


async def _gate(
    installation: Installation,
    who: Principal,
    plugin: str,
    verb: str,
    names: Sequence[str],
    *,
    allow_production: bool,
) -> dict[str, Any]:
    """The connection rows the test may use, by name; production ones only for an admin's
    explicit allowance (both outcomes audited).

    Raises:
        errors.InvalidSettings: a connection does not exist.
        errors.Conflict: a connection is marked production and that was not allowed.
    """
    table = schema.connections
    async with installation.db.connect() as conn:
        rows = {
            row.name: row
            for row in await conn.execute(sa.select(table).where(table.c.name.in_(names)))
        }
    missing = sorted(set(names) - set(rows))
    if missing:
        raise _problem("connection", f"no connection named {', '.join(map(repr, missing))}")
    production = sorted(name for name in names if rows[name].purpose != "test")
    if not production:
        return rows
    allowed = allow_production and who.may(Role.ADMIN)
    async with installation.db.begin() as conn:
        for name in production:
            await audit.record(
                conn,
                actor=who.name,
                action="connection.test_run_allowed" if allowed else "connection.test_run_refused",
                entity="connection",
                entity_id=name,
                changes={"plugin": plugin, "verb": verb, "allow_production": allow_production},
            )
    if not allowed:
        why = (
            "and allow_production needs the admin role"
            if allow_production
            else "set allow_production: true (admins only) to test against it anyway"
        )
        raise errors.Conflict(
            f"connection {', '.join(production)} is marked production: a test of a flow runs "
            f"against test connections only, {why}",
            connections=production,
            purpose="production",
        )
    return rows


async def _inputs(installation: Installation, body: TestRunIn) -> Json:
    if body.from_run is not None:
        async with installation.db.connect() as conn:
            return (await past_inputs(conn, installation.vault, body.from_run)).inputs
    if body.inputs is None:
        return {}
    given = body.inputs.model_dump(exclude_none=True, exclude={"credentials"})
    if body.inputs.credentials:
        given["credentials"] = {
            key: value.get_secret_value() for key, value in body.inputs.credentials.items()
        }
    return given


async def _gate_flow(
    installation: Installation, who: Principal, plugin: LoadedPlugin, state: resume.Resumable
) -> tuple[list[str], dict[str, Any]]:
    """The connections the flow reaches, and their rows once `_gate` let them through."""
    names = sorted(
        FlowDriver(plugin, installation.connections).connection_names(state.verb, state.connection)
    )
    label = _label(plugin, state.document is not None)
    rows = await _gate(
        installation, who, label, state.verb, names, allow_production=state.allow_production
    )
    return names, rows


async def _run(
    installation: Installation,
    plugin: LoadedPlugin,
    state: resume.Resumable,
    names: Sequence[str],
    *,
    now: datetime,
) -> TestRunOut:
    """Run the test once through the connections `names`, and answer (sealing a pending one)."""
    result = await testrun.run_test(
        testrun.TestRun(
            plugin=plugin,
            verb=state.verb,
            connection=state.connection,
            context=state.context,
            correlation_key=state.correlation_key,
            now=now,
            cursor=state.cursor or None,
            secrets=state.secrets,
        ),
        installation.connections,
        allowed=names,
    )
    token, expires = None, None
    if result.status is testrun.TestStatus.PENDING and result.cursor is not None:
        expires = now + resume.TOKEN_TTL
        paused = dataclasses.replace(state, cursor=result.cursor, expires_at=expires)
        token = resume.seal(installation.vault, paused)
    return TestRunOut(
        status=result.status,
        plugin=_label(plugin, state.document is not None),
        verb=state.verb,
        connection=state.connection,
        steps=[_step(step) for step in result.steps],
        service_data=result.service_data,
        result=result.result,
        error=result.error,
        check_after=result.check_after,
        resume_token=token,
        expires_at=expires,
        truncated=result.truncated,
    )


def _step(step: testrun.TraceStep) -> TraceStepOut:
    return TraceStepOut(
        index=step.index,
        node=step.node,
        type=step.type,
        label=step.label,
        input=step.input,
        output=step.output,
        port=step.port,
        wait_seconds=step.wait,
        service_data=step.service_data,
        exchanges=list(step.exchanges),
        error=step.error,
        elapsed_ms=step.elapsed_ms,
        resumed=step.resumed,
    )


_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "this needs the operator role"},
    404: {"description": "no such plugin version, or no such run (`from_run`)"},
    409: {
        "description": "a connection the flow reaches is marked production: "
        "`allow_production: true` from an admin is needed (the refusal is audited)"
    },
    422: {
        "description": "invalid request, an invalid unsaved document (`error.details.problems`"
        " names each problem by its path in the document, as a save does), a verb the plugin "
        "has no flow for, an unknown connection or one of another type, or options that do "
        "not fit the plugin's settings"
    },
}


@router.post(
    "/test-runs",
    summary="Test one verb of a plugin against a test connection, traced node by node",
    responses=_ANSWERS,
)
async def start_test_run(body: TestRunIn, request: Request, who: Operator) -> TestRunOut:
    """Runs the verb once (up to its first wait) through the production interpreter and
    upstream boundary, writing nothing; `status` is `done`, `pending` (resume with
    `resume_token` after `check_after` seconds) or `failed` (`error`, and the trace so far).
    """
    installation = _installation(request)
    plugin = await _plugin(installation, body.document, body.slug, body.version)
    verb = str(body.verb)
    if verb not in plugin.document.flows:
        raise _problem("verb", f"plugin {plugin.slug} has no {verb!r} flow")
    now = datetime.now(UTC)
    state = resume.Resumable(
        slug=None if body.document is not None else plugin.slug,
        version=None if body.document is not None else plugin.version,
        document=body.document,
        verb=verb,
        connection=body.connection,
        context={},
        secrets=(),
        correlation_key=f"test-{random.token_hex(6)}:{verb}",
        cursor={},
        allow_production=body.allow_production,
        expires_at=now,
        started_by=who.name,
    )
    names, rows = await _gate_flow(installation, who, plugin, state)
    row = rows[body.connection]
    wanted = plugin.document.plugin.connection_type
    if wanted is not None and row.type != wanted:
        raise _problem(
            "connection",
            f"connection {body.connection!r} is of type {row.type!r}, but plugin "
            f"{plugin.slug} needs a {wanted!r} connection",
        )
    if verb == TEST_FLOW:  # what "test connection" gives it (plugins.probe)
        context: Json = {"connection": flow_fields(row._mapping)}
        secrets: tuple[str, ...] = ()
    else:
        context, secrets = test_context(plugin, await _inputs(installation, body), row._mapping)
    state = dataclasses.replace(state, context=context, secrets=secrets)
    return await _run(installation, plugin, state, names, now=now)


@router.post(
    "/test-runs/resume",
    summary="Resume a pending test of a flow with its resume token",
    responses={
        400: {"description": "the token is not valid (altered, cut short, another key)"},
        403: {
            "description": "this needs the operator role, or the test was started by someone "
            "else (a token is bound to whoever started the test)"
        },
        404: {"description": "the tested plugin version no longer exists"},
        409: _ANSWERS[409],
        410: {"description": "the token has expired: start the test again"},
    },
)
async def resume_test_run(body: ResumeIn, request: Request, who: Operator) -> TestRunOut:
    """Runs the paused flow on from its waiting node; the connections are checked again.

    Only whoever started the test may resume it (its token names them).
    """
    installation = _installation(request)
    now = datetime.now(UTC)
    state = resume.open_token(installation.vault, body.token, now)
    resume.check_owner(state, who.name)
    plugin = await _plugin(installation, state.document, state.slug, state.version)
    names, _ = await _gate_flow(installation, who, plugin, state)
    return await _run(installation, plugin, state, names, now=now)
