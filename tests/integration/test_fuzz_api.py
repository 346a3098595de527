"""A bounded schemathesis run over the API's own OpenAPI document: no answer is a server error,
and every answer is one the document promises, with the content type and shape it promises.

Every operation is fuzzed with schema-valid and schema-invalid requests (schemathesis), part of
them seasoned with names that exist (so requests get past the lookups) or with values that
break databases rather than schemas (integers past 64 bits, NUL characters, line breaks), once
with the API token and once without, on SQLite and on PostgreSQL.

The app answers in-process on the test's own event loop (the `installation` fixture's database
pool lives there): Hypothesis runs in a worker thread and hands each request back to the loop.
The run is derandomized, so a failure is found again by running the test again; failures are
collected, not shrunk, and reported together with the request that caused them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio.from_thread
import anyio.to_thread
import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import checks as st_checks
from schemathesis.core.result import Ok
from schemathesis.specs.openapi import checks as openapi_checks

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.db import schema
from tests.integration.conftest import API_TOKEN
from tests.integration.support import finish, place_and_pay, place_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

EXAMPLES = {
    ("sqlite", True): 30,
    ("postgresql", True): 15,
    ("sqlite", False): 5,
    ("postgresql", False): 5,
}
"""Examples per operation and generation mode, by backend and token. Without the token every
answer is a 401. What requests are generated does not depend on the database; what PostgreSQL
adds is its stricter types (64-bit integers, NUL characters), which the hostile seasoning
(a third of the examples) sends to every parameter, so half as many examples there."""

CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]

HOSTILE: list[Any] = [
    2**63,
    2**64,
    -(2**63) - 1,
    2**31,
    0,
    -1,
    "\x00",
    "nul\x00inside",
    "two\r\nlines",
    "line\nfeed",
]
"""Values that break databases or headers rather than schemas."""

STREAMS = {"/api/v1/events"}
"""Endless answers (server-sent events): an in-process transport waits for a whole body, so
they are not fuzzed here; `test_api_events.py` covers their answers over real HTTP."""

BASE_URL = "http://api.test"
_REQUEST_FIELDS = {"method", "url", "headers", "params", "data", "json", "files", "cookies"}

Send = Callable[[requests.PreparedRequest], httpx.Response]


KNOWN: dict[str, list[Any]] = {
    "name": ["solusvm2"],
    "slug": ["solusvm2", "pterodactyl"],
    "gateway": ["stripe", "mollie", "paypal", "coingate"],
    "verb": ["suspend", "unsuspend", "terminate", "reinstall", "resize", "reset_password"],
    "product": ["vps-2g"],
    "hostname": ["fuzz1.example.com", "fuzz9.example.com"],
    "type": ["solusvm2"],
    "q": ["fuzz1", "1"],
    "customer": ["ada@example.com"],
    # The catalogue's references and keys (bodies name entries by natural key).
    "location": ["ams1"],
    "connection": ["solusvm2"],
    "plugin": ["solusvm2"],
    "image": ["debian-12"],
    "subnet": ["192.0.2.0/28"],
    "cidr": ["192.0.2.0/28", "198.51.100.0/24"],
    "code": ["ams1", "fra1"],
    "email": ["ada@example.com"],
    "entity": ["host", "product"],
}
"""Names that exist in the installation, so requests also get past the lookups."""


def _season(case: Any, data: st.DataObject, pool: Callable[[str], list[Any]]) -> None:
    """Replace some path, query and top-level body values of `case` with ones from `pool`."""
    places = [case.path_parameters, case.query, case.body if isinstance(case.body, dict) else {}]
    for values in places:
        for name in list(values or {}):
            choices = pool(name)
            replace: bool = bool(choices) and data.draw(st.booleans())
            if replace:
                values[name] = data.draw(st.sampled_from(choices))


def _body(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if isinstance(body, str):
        return body.encode()
    if body is None or isinstance(body, bytes):
        return body or b""
    raise TypeError(f"unexpected streamed body {body!r}")


def _request_line(request: requests.PreparedRequest) -> str:
    return f"  {request.method} {request.url} {_body(request)[:300]!r}"


def _fuzz_operation(
    operation: Any, headers: dict[str, str], send: Send, examples: int
) -> list[str]:
    """Fuzz one operation; returns one report per distinct (status, check) failure."""
    found: dict[str, str] = {}
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=examples * 2,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        print_blob=False,
    )
    @hypothesis.given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        seasoning = data.draw(st.sampled_from(["none", "known", "hostile"]))
        if seasoning == "known":
            _season(case, data, lambda name: KNOWN.get(name, []))
        elif seasoning == "hostile":
            _season(case, data, lambda _name: HOSTILE)
        kwargs = case.as_transport_kwargs(base_url=BASE_URL)
        kwargs["headers"].update(headers)  # the token wins over a generated Authorization
        request = requests.Request(**{k: v for k, v in kwargs.items() if k in _REQUEST_FIELDS})
        prepared = request.prepare()
        response = send(prepared)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except schemathesis.errors.FailureGroup as group:
            for failure in group.exceptions:
                key = f"{operation.label} -> {response.status_code}: {failure.title}"
                found.setdefault(key, f"{key}\n{_request_line(prepared)}\n{failure.message}")

    run()
    return list(found.values())


async def _something_to_find(installation: bootstrap.Installation) -> None:
    """Rows for small ids (Hypothesis tries 1 and 2 early): an active service with its order,
    invoice, run and delivery; an unpaid order; a failed run (retryable)."""
    order_id = await place_and_pay(installation, "fuzz1.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    await place_order(installation, "fuzz2.example.com")
    failed = await place_and_pay(installation, "fuzz3.example.com")
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.runs.update().where(schema.runs.c.order_id == failed).values(state="failed")
        )


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
async def test_fuzzing_the_openapi_finds_no_server_error_and_no_undocumented_answer(
    installation: bootstrap.Installation, backend: str, with_token: bool
) -> None:
    await _something_to_find(installation)
    app = create_app(installation)
    schema = schemathesis.openapi.from_dict(app.openapi())
    headers = {"Authorization": f"Bearer {API_TOKEN}"} if with_token else {}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:

        async def forward(request: requests.PreparedRequest) -> httpx.Response:
            return await client.request(
                request.method or "GET",
                request.url or "/",
                headers=[
                    (k, v if isinstance(v, str) else v.decode()) for k, v in request.headers.items()
                ],
                content=_body(request),
            )

        def send(request: requests.PreparedRequest) -> httpx.Response:
            return anyio.from_thread.run(forward, request)

        def fuzz() -> list[str]:
            failures: list[str] = []
            for result in schema.get_all_operations():
                assert isinstance(result, Ok), result
                if result.ok().path in STREAMS:
                    continue
                failures += _fuzz_operation(
                    result.ok(), headers, send, EXAMPLES[backend, with_token]
                )
            return failures

        started = time.monotonic()
        failures = await anyio.to_thread.run_sync(fuzz)
        elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} failures in {elapsed:.0f} s:\n\n" + "\n\n".join(failures)
