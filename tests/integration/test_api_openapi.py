"""The OpenAPI document promises every error answer the API gives, with the one error shape.

Found by the hardening review: the document omitted the 400/401/404/409/503 answers the API
really gave, and documented FastAPI's 422 shape rather than ours. The fuzzer
(`test_fuzz_api.py`) checks each answer against the document; these pin the rules, and that
every view answers a named model whose fields (states as enums, timestamps as date-times)
the document names.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling.orders.detail import PhaseStatus
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import RunState

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture
async def document(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


async def test_every_error_answer_has_the_error_shape(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, answer in operation["responses"].items():
            if status.startswith("4") or (status.startswith("5") and path.startswith("/api")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == ERROR_REF, (method, path, status)
    error = document["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]


async def test_every_operation_documents_the_answers_its_shape_implies(
    document: dict[str, Any],
) -> None:
    for method, path, operation in _operations(document):
        statuses = set(operation["responses"])
        assert "503" in statuses, (method, path)
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        if path == "/api/v1/auth/login":
            assert "security" not in operation
            assert {"401", "429"} <= statuses
        elif path.startswith("/api/v1"):
            assert operation["security"] == [{"HTTPBearer": []}, {"SessionCookie": []}], (
                method,
                path,
            )
            assert "401" in statuses, (method, path)
            assert operation["x-required-role"] in ("viewer", "operator", "admin"), (method, path)
            if method != "GET" or operation["x-required-role"] != "viewer":
                assert "403" in statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= statuses, (method, path)
        if "{" in path:
            assert {"404", "422"} <= statuses, (method, path)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/orders", {"201", "400", "401", "404", "409", "413", "422", "503"}),
        ("GET", "/api/v1/orders/{order_id}", {"200", "401", "404", "422", "503"}),
        ("POST", "/api/v1/runs/{run_id}/retry", {"409"}),
        ("POST", "/api/v1/runs/{run_id}/cancel", {"409"}),
        ("POST", "/api/v1/invoices/{invoice_id}/checkout", {"404", "409", "502"}),
        ("POST", "/api/v1/connections", {"409"}),
        ("DELETE", "/api/v1/connections/{name}", {"409"}),
        ("POST", "/api/v1/services/{service_id}/actions/{verb}", {"409"}),
        (
            "POST",
            "/api/v1/services/{service_id}/password/reveal",
            {"200", "401", "403", "404", "409", "422", "503"},
        ),
        ("POST", "/webhooks/{gateway}", {"200", "400", "404", "503"}),
        ("POST", "/api/v1/plugins/test-runs", {"200", "403", "404", "409", "413", "422"}),
        ("POST", "/api/v1/plugins/test-runs/resume", {"200", "400", "409", "410", "422"}),
        ("GET", "/api/v1/runs/{run_id}/flow-context", {"200", "404", "422"}),
        ("PATCH", "/api/v1/connections/{name}", {"403", "422"}),
        ("POST", "/api/v1/plugins/validate", {"200", "403", "413", "422"}),
        ("POST", "/api/v1/plugins/import", {"200", "403", "413", "422", "502"}),
        ("GET", "/api/v1/orders", {"200", "401", "422", "503"}),
        ("POST", "/api/v1/orders/{order_id}/retry", {"404", "409", "413", "422"}),
        ("POST", "/api/v1/orders/{order_id}/cancel", {"404", "409", "422"}),
        ("POST", "/api/v1/orders/{order_id}/reallocate", {"200", "401", "404", "409", "503"}),
        ("GET", "/api/v1/dashboard", {"200", "401", "503"}),
        ("GET", "/api/v1/events", {"200", "401", "422", "503"}),
    ],
)
async def test_routes_document_their_own_answers(
    document: dict[str, Any], method: str, path: str, expected: set[str]
) -> None:
    assert expected <= set(document["paths"][path][method.lower()]["responses"])


async def test_ids_and_versions_document_their_range(document: dict[str, Any]) -> None:
    (order_id,) = document["paths"]["/api/v1/orders/{order_id}"]["get"]["parameters"]
    assert order_id["schema"]["maximum"] == 2**63 - 1
    parameters = document["paths"]["/api/v1/plugins/{slug}/versions/{version}"]["get"]["parameters"]
    version = next(p for p in parameters if p["name"] == "version")
    assert version["schema"]["maximum"] == 2**31 - 1


async def test_every_integer_parameter_fits_a_database_column(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            for branch in schema.get("anyOf", [schema]):
                if branch.get("type") == "integer":
                    assert branch.get("maximum", 2**63) <= 2**63 - 1, (method, path, parameter)
                    assert branch.get("minimum", -(2**63) - 1) >= -(2**63), (method, path)


async def test_every_request_body_model_refuses_unknown_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for method, path, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        if (method, path) in {("POST", "/api/v1/plugins"), ("POST", "/api/v1/plugins/validate")}:
            continue  # a whole plugin document, validated by the plugin manager
        refs = [b["$ref"] for b in body.get("anyOf", [body]) if "$ref" in b]
        assert refs, (method, path)
        for ref in refs:
            model = schemas[ref.rsplit("/", 1)[-1]]
            assert model["additionalProperties"] is False, (method, path, ref)


def _model(document: dict[str, Any], ref: str) -> dict[str, Any]:
    model: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return model


def _answer(document: dict[str, Any], method: str, path: str, status: str) -> str:
    answer = document["paths"][path][method.lower()]["responses"][status]
    ref: str = answer["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("method", "path", "status", "model"),
    [
        ("POST", "/api/v1/orders", "201", "OrderCreatedOut"),
        ("GET", "/api/v1/orders/{order_id}", "200", "OrderOut"),
        ("GET", "/api/v1/runs", "200", "RunListOut"),
        ("GET", "/api/v1/orders", "200", "OrderListOut"),
        ("GET", "/api/v1/dashboard", "200", "DashboardOut"),
        ("POST", "/api/v1/orders/{order_id}/retry", "200", "OrderRunChangedOut"),
        ("POST", "/api/v1/orders/{order_id}/cancel", "200", "OrderRunChangedOut"),
        ("POST", "/api/v1/orders/{order_id}/reallocate", "200", "OrderRunChangedOut"),
        ("POST", "/api/v1/runs/{run_id}/retry", "200", "RunChangedOut"),
        ("POST", "/api/v1/runs/{run_id}/cancel", "200", "RunChangedOut"),
        ("POST", "/api/v1/services/{service_id}/actions/{verb}", "202", "QueuedActionOut"),
        ("GET", "/api/v1/services/{service_id}/actions", "200", "ActionListOut"),
        ("GET", "/api/v1/actions/{action_id}", "200", "ActionOut"),
        ("GET", "/api/v1/webhook-deliveries", "200", "DeliveryListOut"),
        ("GET", "/api/v1/webhook-deliveries/{delivery_id}", "200", "DeliveryDetailOut"),
        ("POST", "/api/v1/webhook-deliveries/{delivery_id}/release", "200", "DeliveryOut"),
        ("GET", "/api/v1/invoices/{invoice_id}", "200", "InvoiceDetailOut"),
        ("POST", "/api/v1/invoices/{invoice_id}/checkout", "201", "CheckoutOut"),
        ("POST", "/api/v1/invoices/{invoice_id}/sync", "200", "SyncOut"),
        ("POST", "/api/v1/reconciler/run", "200", "ReportOut"),
        ("POST", "/api/v1/plugins/test-runs", "200", "TestRunOut"),
        ("POST", "/api/v1/plugins/test-runs/resume", "200", "TestRunOut"),
        ("GET", "/api/v1/runs/{run_id}/flow-context", "200", "FlowContextOut"),
    ],
)
async def test_every_view_answers_a_named_model(
    document: dict[str, Any], method: str, path: str, status: str, model: str
) -> None:
    assert _answer(document, method, path, status) == model


TIMESTAMP = {"type": "string", "format": "date-time"}


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (
            "OrderOut",
            {
                "id": {"type": "integer"},
                "hostname": {"type": "string"},
                "state": {"$ref": "#/components/schemas/OrderState"},
                "phases": {"type": "array", "items": {"$ref": "#/components/schemas/PhaseOut"}},
                "activity": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ActivityOut"},
                },
            },
        ),
        (
            "OrderRunOut",
            {
                "state": {"$ref": "#/components/schemas/RunState"},
                "phase": {"$ref": "#/components/schemas/Phase"},
                "attempt": {"type": "integer"},
                "next_run_at": TIMESTAMP,
            },
        ),
        (
            "PhaseOut",
            {
                "phase": {"$ref": "#/components/schemas/Phase"},
                "status": {"$ref": "#/components/schemas/PhaseStatus"},
            },
        ),
        (
            "ServiceOut",
            {
                "status": {"$ref": "#/components/schemas/ServiceState"},
                "service_data": {"type": "object"},
                "has_credentials": {"type": "boolean"},
                "updated_at": TIMESTAMP,
            },
        ),
        (
            "ActivityOut",
            {
                "id": {"type": "integer"},
                "at": TIMESTAMP,
                "event": {"type": "string"},
                "message": {"type": "string"},
                "data": {"type": "object"},
            },
        ),
        (
            "RunOut",
            {
                "order_id": {"type": "integer"},
                "kind": {"type": "string"},
                "state": {"$ref": "#/components/schemas/RunState"},
                "updated_at": TIMESTAMP,
            },
        ),
        (
            "ActionOut",
            {
                "verb": {"type": "string"},
                "state": {"$ref": "#/components/schemas/RunState"},
                "created_at": TIMESTAMP,
            },
        ),
        (
            "DeliveryOut",
            {
                "gateway": {"type": "string"},
                "received_at": TIMESTAMP,
                "verification": {"type": "string"},
                "attempts": {"type": "integer"},
            },
        ),
        (
            "DeliveryDetailOut",
            {
                "body_truncated": {"type": "boolean"},
                "body_size": {"type": "integer"},
                "body": {"type": "string"},
            },
        ),
        ("InvoiceOut", {"amount_minor": {"type": "integer"}, "created_at": TIMESTAMP}),
    ],
)
async def test_views_name_each_field_and_its_type(
    document: dict[str, Any], model: str, fields: dict[str, dict[str, Any]]
) -> None:
    schema = _model(document, model)
    for name, expected in fields.items():
        field = schema["properties"][name]
        assert {key: field[key] for key in expected} == expected, (model, name)
        assert name in schema["required"], (model, name)


async def test_order_run_service_and_phase_states_are_enums(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    enums = {name: schemas[name]["enum"] for name in ("OrderState", "RunState", "ServiceState")}
    assert enums == {
        "OrderState": [s.value for s in OrderState],
        "RunState": [s.value for s in RunState],
        "ServiceState": [s.value for s in ServiceState],
    }
    assert schemas["PhaseStatus"]["enum"] == [s.value for s in PhaseStatus]


async def test_nullable_parts_of_an_order_say_so(document: dict[str, Any]) -> None:
    order = _model(document, "OrderOut")["properties"]
    for part, ref in (("invoice", "InvoiceOut"), ("run", "OrderRunOut"), ("service", "ServiceOut")):
        assert order[part]["anyOf"] == [
            {"$ref": f"#/components/schemas/{ref}"},
            {"type": "null"},
        ]


async def test_the_customers_reveal_pages_are_not_part_of_the_api(
    document: dict[str, Any],
) -> None:
    assert not [path for path in document["paths"] if path.startswith("/reveal")]


async def test_the_event_stream_is_documented_as_one(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/events"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Last-Event-ID"


async def test_the_order_page_names_its_attempts_and_suggestion(document: dict[str, Any]) -> None:
    phase = _model(document, "PhaseOut")["properties"]
    assert phase["attempts"]["items"] == {"$ref": "#/components/schemas/PhaseAttemptOut"}
    attempt = _model(document, "PhaseAttemptOut")["properties"]
    assert attempt["outcome"] == {"$ref": "#/components/schemas/AttemptOutcome"}
    assert attempt["exchanges"]["items"] == {"$ref": "#/components/schemas/ExchangeOut"}
    error = _model(document, "NormalizedErrorOut")["properties"]
    assert error["error_class"]["$ref"] == "#/components/schemas/ErrorClass"
    suggestion = _model(document, "SuggestionOut")["properties"]
    assert suggestion["action"] == {"$ref": "#/components/schemas/SuggestedAction"}
    alarm = _model(document, "AlarmOut")["properties"]
    assert alarm["kind"] == {"$ref": "#/components/schemas/AlarmKind"}
