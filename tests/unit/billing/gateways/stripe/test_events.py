"""Stripe event parsing and classification (and the simulator's events): `gateways.stripe.events`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing import facts
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling_simulators import stripe as stripe_sim

SECRET = "whsec_current0123456789abcdef"
NOW = 1_764_140_000


@pytest.fixture
def body() -> bytes:
    return stripe_sim.checkout_completed(42, 1999, "EUR", event_id="evt_1", created=NOW)


# --- parse_event ----------------------------------------------------------------------


def test_parse_event_reads_the_envelope(body: bytes) -> None:
    event = stripe_events.parse_event(body)
    assert event.id == "evt_1"
    assert event.type == "checkout.session.completed"
    assert event.livemode is False
    assert event.created == NOW
    assert event.object["client_reference_id"] == "42"


def envelope(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "created": NOW,
        "data": {"object": {"id": "pi_1"}},
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({k: v for k, v in envelope().items() if k != "id"}, "missing field 'id'"),
        (envelope(type=None), "missing field 'type'"),
        (envelope(created="yesterday"), "field 'created' has the wrong type"),
        (envelope(created=True), "field 'created' has the wrong type"),
        (envelope(livemode="no"), "field 'livemode' has the wrong type"),
        (envelope(data={}), "missing field 'data.object'"),
        (envelope(data=[]), "field 'data' has the wrong type"),
        ([1, 2], "malformed JSON body: not an object"),
    ],
)
def test_parse_event_names_the_bad_field(payload: object, expected: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        stripe_events.parse_event(json.dumps(payload).encode())
    assert info.value.message == expected


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_parse_event_rejects_malformed_json(raw: bytes) -> None:
    with pytest.raises(errors.InvalidWebhook, match="malformed JSON body"):
        stripe_events.parse_event(raw)


# --- classify -------------------------------------------------------------------------


def event(type_: str, obj: dict[str, Any], *, livemode: bool = False) -> stripe_events.StripeEvent:
    return stripe_events.StripeEvent(
        id="evt_1", type=type_, livemode=livemode, created=NOW, object=obj
    )


SESSION = {
    "id": "cs_test_1",
    "amount_total": 1999,
    "currency": "eur",
    "client_reference_id": "42",
    "metadata": {"invoice_id": "42"},
    "payment_intent": "pi_1",
    "payment_status": "paid",
}


INTENT = {
    "id": "pi_1",
    "amount": 1999,
    "amount_received": 1999,
    "currency": "usd",
    "metadata": {"invoice_id": "7"},
}


@pytest.mark.parametrize(
    ("type_", "obj", "kind", "payment_id", "ref", "amount", "currency"),
    [
        ("checkout.session.completed", SESSION, "paid", "cs_test_1", "42", 1999, "EUR"),
        (
            "checkout.session.completed",
            {**SESSION, "payment_status": "unpaid"},
            "pending",
            "cs_test_1",
            "42",
            1999,
            "EUR",
        ),
        (
            "checkout.session.async_payment_succeeded",
            SESSION,
            "paid",
            "cs_test_1",
            "42",
            1999,
            "EUR",
        ),
        (
            "checkout.session.async_payment_failed",
            SESSION,
            "failed",
            "cs_test_1",
            "42",
            1999,
            "EUR",
        ),
        ("checkout.session.expired", SESSION, "failed", "cs_test_1", "42", 1999, "EUR"),
        (
            "payment_intent.succeeded",
            {**INTENT, "amount_received": 1500},
            "paid",
            "pi_1",
            "7",
            1500,
            "USD",
        ),
        ("payment_intent.processing", INTENT, "pending", "pi_1", "7", 1999, "USD"),
        ("payment_intent.payment_failed", INTENT, "failed", "pi_1", "7", 1999, "USD"),
        ("payment_intent.canceled", INTENT, "failed", "pi_1", "7", 1999, "USD"),
        (
            "invoice.paid",
            {"id": "in_1", "amount_paid": 500, "currency": "gbp"},
            "paid",
            "in_1",
            None,
            500,
            "GBP",
        ),
        (
            "invoice.payment_failed",
            {"id": "in_1", "amount_due": 500, "currency": "gbp"},
            "failed",
            "in_1",
            None,
            500,
            "GBP",
        ),
        (
            "charge.refunded",
            {"id": "ch_1", "amount_refunded": 300, "currency": "eur", "payment_intent": "pi_1"},
            "refund",
            "pi_1",
            None,
            300,
            "EUR",
        ),
        (
            "refund.created",
            {"id": "re_1", "amount": 300, "currency": "eur", "payment_intent": {"id": "pi_2"}},
            "refund",
            "pi_2",
            None,
            300,
            "EUR",
        ),
        (
            "charge.dispute.created",
            {"id": "dp_1", "amount": 1999, "currency": "eur", "charge": "ch_1"},
            "dispute",
            "ch_1",
            None,
            1999,
            "EUR",
        ),
        (
            "charge.dispute.closed",
            {"id": "dp_1", "amount": 1999, "currency": "eur", "payment_intent": None},
            "dispute",
            "dp_1",
            None,
            1999,
            "EUR",
        ),
    ],
)
def test_classification_table(
    type_: str,
    obj: dict[str, Any],
    kind: str,
    payment_id: str,
    ref: str | None,
    amount: int,
    currency: str,
) -> None:
    fact = stripe_events.classify(event(type_, obj, livemode=True))
    assert (fact.kind, fact.gateway_payment_id, fact.invoice_ref) == (kind, payment_id, ref)
    assert (fact.amount_minor, fact.currency, fact.livemode) == (amount, currency, True)
    assert fact.gateway_object_id == obj["id"]


def test_metadata_is_the_fallback_invoice_ref() -> None:
    obj = {**SESSION, "client_reference_id": None, "metadata": {"invoice_id": "99"}}
    assert stripe_events.classify(event("checkout.session.completed", obj)).invoice_ref == "99"


@pytest.mark.parametrize("type_", ["customer.subscription.deleted", "product.created"])
def test_unknown_and_lifecycle_types_are_ignored(type_: str) -> None:
    fact = stripe_events.classify(event(type_, {"id": "sub_1"}))
    assert fact == facts.PaymentFact(
        kind="ignored",
        gateway_payment_id="sub_1",
        invoice_ref=None,
        amount_minor=0,
        currency="",
        livemode=False,
        gateway_object_id="sub_1",
    )


def test_ignored_event_without_an_id() -> None:
    assert stripe_events.classify(event("ping", {})).gateway_payment_id == ""


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({**SESSION, "amount_total": None}, "data.object.amount_total"),
        ({**SESSION, "amount_total": "19.99"}, "data.object.amount_total"),
        ({k: v for k, v in SESSION.items() if k != "currency"}, "data.object.currency"),
        ({k: v for k, v in SESSION.items() if k != "id"}, "data.object.id"),
    ],
)
def test_classify_names_a_missing_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        stripe_events.classify(event("checkout.session.completed", obj))
    assert info.value.details == {"field": field}


# --- simulator ------------------------------------------------------------------------


def test_simulated_event_is_shaped_like_stripes() -> None:
    raw = stripe_sim.checkout_completed(42, 1999, "EUR", payment_status="unpaid", livemode=True)
    data = json.loads(raw)
    session = data["data"]["object"]
    assert data["id"].startswith("evt_")
    assert data["object"] == "event"
    assert data["api_version"] == stripe_sim.API_VERSION
    assert session["id"].startswith("cs_live_")
    assert session["payment_intent"].startswith("pi_")
    assert session["currency"] == "eur"
    assert session["metadata"] == {"invoice_id": "42"}
    fact = stripe_events.classify(stripe_events.parse_event(raw))
    assert (fact.kind, fact.invoice_ref, fact.currency, fact.livemode) == (
        "pending",
        "42",
        "EUR",
        True,
    )


def test_simulated_ids_are_unique() -> None:
    first = json.loads(stripe_sim.checkout_completed(1, 100, "eur"))
    second = json.loads(stripe_sim.checkout_completed(1, 100, "eur"))
    assert first["id"] != second["id"]
    assert first["data"]["object"]["id"].startswith("cs_test_")


@pytest.mark.anyio
async def test_deliver_posts_the_exact_bytes(body: bytes) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response = await stripe_sim.deliver(
            client, "http://test/webhooks/stripe/main", body, SECRET
        )
        await stripe_sim.deliver(client, "http://test/x", body, SECRET, t=NOW)
    assert response.status_code == 200
    request = seen[0]
    assert request.method == "POST"
    assert request.content == body
    t = int(request.headers["stripe-signature"].split(",")[0].removeprefix("t="))
    stripe_verify.verify_signature(body, request.headers["stripe-signature"], [SECRET], now=t)
    assert seen[1].headers["stripe-signature"] == stripe_verify.sign(body, SECRET, NOW)
