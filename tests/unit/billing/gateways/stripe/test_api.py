"""The Stripe API client against the simulator (in-process), and the fetch path's facts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateways.stripe import api as stripe_api
from fluxbilling.billing.gateways.stripe import checkout as stripe_checkout
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.redaction import MASK
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.stripe import StripeState, create_app

pytestmark = pytest.mark.anyio

KEY = "sk_test_51FluxBillingSimulatorKey0123"
LIVE_KEY = "sk_live_51FluxBillingSimulatorKey0123"
NOW = 1_764_140_000.0
SUCCESS = "https://billing.example/invoices/7?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://billing.example/invoices/7"


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and keeps them, to look at the wire format."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def state() -> StripeState:
    return StripeState(
        secret_keys=frozenset({KEY, LIVE_KEY}),
        seed=3,
        clock=lambda: NOW,
        faults=Faults(timeout_delay=0.01),
    )


@pytest.fixture
def wire(state: StripeState) -> Recording:
    return Recording(create_app(state))


@pytest.fixture
async def api(wire: Recording) -> AsyncIterator[stripe_api.StripeApi]:
    client = stripe_api.connect(KEY, transport=wire)
    yield client
    await client.aclose()


def body(invoice_id: int = 7, amount_minor: int = 1999) -> dict[str, Any]:
    return stripe_checkout.checkout_request(
        invoice_id, amount_minor, "EUR", SUCCESS, CANCEL, "VPS M"
    )


def mock_api(handler: Any) -> stripe_api.StripeApi:
    return stripe_api.connect(KEY, transport=httpx.MockTransport(handler))


def webhook_facts(state: StripeState) -> dict[str, list[PaymentFact]]:
    """What our webhook endpoint would classify from every queued event, by event type."""
    facts: dict[str, list[PaymentFact]] = {}
    for event_id in state.queue:
        event = stripe_events.parse_event(state.events[event_id].body)
        facts.setdefault(event.type, []).append(stripe_events.classify(event))
    return facts


# --- pure helpers ---------------------------------------------------------------------


def test_form_encoding_uses_bracket_notation() -> None:
    assert stripe_api.encode_form(body()) == {
        "mode": "payment",
        "client_reference_id": "7",
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "metadata[invoice_id]": "7",
        "payment_intent_data[metadata][invoice_id]": "7",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "1999",
        "line_items[0][price_data][product_data][name]": "VPS M",
    }
    assert stripe_api.encode_form({"a": True, "b": False, "c": None, "d": ("x", "y")}) == {
        "a": "true",
        "b": "false",
        "d[0]": "x",
        "d[1]": "y",
    }


def test_credential() -> None:
    assert stripe_api.credential(KEY).headers == {"Authorization": f"Bearer {KEY}"}
    for bad in ("", "pk_test_abc", "sk_prod_abc", "whsec_abc"):
        with pytest.raises(errors.InvalidSettings) as info:
            stripe_api.credential(bad)
        assert not bad or bad not in info.value.message


# --- creating and fetching ------------------------------------------------------------


async def test_create_sends_stripes_wire_format(
    state: StripeState, api: stripe_api.StripeApi, wire: Recording
) -> None:
    session = await api.create_checkout_session(body(), "invoice-7-1")
    request = wire.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/v1/checkout/sessions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["idempotency-key"] == "invoice-7-1"
    assert request.headers["stripe-version"] == stripe_api.API_VERSION
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=eur" in request.content
    assert b"metadata%5Binvoice_id%5D=7" in request.content
    assert session["id"].startswith("cs_test_")
    assert (session["status"], session["payment_status"], session["amount_total"]) == (
        "open",
        "unpaid",
        1999,
    )
    assert (session["currency"], session["client_reference_id"]) == ("eur", "7")
    assert session["url"] == f"https://api.stripe.com/c/pay/{session['id']}"
    assert session["payment_intent"] is None  # created only when the customer confirms
    assert state.sessions[session["id"]]["_intent_metadata"] == {"invoice_id": "7"}


async def test_requests_are_redacted(api: stripe_api.StripeApi) -> None:
    await api.create_checkout_session(body(), "invoice-7-1")
    exchange = api.http.recorder.last
    assert exchange is not None
    assert exchange.request_headers["Authorization"] == MASK
    assert exchange.request_body["line_items[0][price_data][unit_amount]"] == "1999"
    assert KEY not in json.dumps(exchange.to_dict())


async def test_idempotency_replays_the_first_session(
    state: StripeState, api: stripe_api.StripeApi
) -> None:
    first = await api.create_checkout_session(body(), "invoice-7-1")
    again = await api.create_checkout_session(body(), "invoice-7-1")
    assert again == first
    assert len(state.sessions) == 1
    other = await api.create_checkout_session(body(), "invoice-7-2")
    assert other["id"] != first["id"]
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.create_checkout_session(body(amount_minor=2999), "invoice-7-1")
    assert info.value.status == 400
    assert "idempotency_error" in info.value.message
    assert len(state.sessions) == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_idempotency_key_is_required(api: stripe_api.StripeApi, key: str) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.create_checkout_session(body(), key)


async def test_a_lost_create_response_is_transient_and_the_retry_finds_the_session(
    state: StripeState, api: stripe_api.StripeApi
) -> None:
    state.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError) as info:
        await api.create_checkout_session(body(), "invoice-7-1")
    assert info.value.status == 503
    session = await api.create_checkout_session(body(), "invoice-7-1")
    assert list(state.sessions) == [session["id"]]


async def test_a_key_in_use_is_transient(state: StripeState, api: stripe_api.StripeApi) -> None:
    state.faults.exists_next()
    with pytest.raises(errors.TransientUpstreamError) as info:
        await api.create_checkout_session(body(), "invoice-7-1")
    assert info.value.status == 409
    assert "idempotency_key_in_use" in info.value.message
    assert state.sessions == {}


async def test_invalid_parameters_are_permanent_and_name_the_param(
    api: stripe_api.StripeApi,
) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.create_checkout_session({**body(), "success_url": "nope"}, "invoice-7-1")
    assert info.value.status == 400
    assert '"param":"success_url"' in info.value.message.replace(" ", "")


async def test_get_session_expands_the_payment_and_its_charge(
    state: StripeState, api: stripe_api.StripeApi, wire: Recording
) -> None:
    created = await api.create_checkout_session(body(), "invoice-7-1")
    state.pay(created["id"])
    session = await api.get_checkout_session(created["id"])
    assert wire.requests[-1].url.params.get_list("expand[]") == list(stripe_api.SESSION_EXPAND)
    assert session is not None
    assert (session["status"], session["payment_status"], session["url"]) == (
        "complete",
        "paid",
        None,
    )
    intent = session["payment_intent"]
    assert (intent["object"], intent["status"], intent["metadata"]) == (
        "payment_intent",
        "succeeded",
        {"invoice_id": "7"},
    )
    charge = intent["latest_charge"]
    assert (charge["object"], charge["amount"], charge["paid"]) == ("charge", 1999, True)
    plain = await api.get_checkout_session(created["id"], expand=())
    assert plain is not None
    assert plain["payment_intent"] == intent["id"]


async def test_get_payment_intent(state: StripeState, api: stripe_api.StripeApi) -> None:
    created = await api.create_checkout_session(body(), "invoice-7-1")
    state.pay(created["id"])
    state.refund(created["id"], 500)
    intent_id = state.sessions[created["id"]]["payment_intent"]
    intent = await api.get_payment_intent(intent_id)
    assert intent is not None
    assert intent["latest_charge"]["amount_refunded"] == 500
    assert await api.get_payment_intent("pi_unknown123") is None


async def test_unknown_and_other_mode_sessions_are_none(
    state: StripeState, api: stripe_api.StripeApi
) -> None:
    assert await api.get_checkout_session("cs_test_doesnotexist") is None
    live = stripe_api.connect(LIVE_KEY, transport=httpx.ASGITransport(app=create_app(state)))
    created = await live.create_checkout_session(body(), "invoice-7-1")
    await live.aclose()
    assert created["id"].startswith("cs_live_") and created["livemode"] is True
    assert await api.get_checkout_session(created["id"]) is None


@pytest.mark.parametrize("session_id", ["", "pi_123", "cs_test_a/../b", "cs_prod_abc"])
async def test_session_ids_are_checked(api: stripe_api.StripeApi, session_id: str) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.get_checkout_session(session_id)


@pytest.mark.parametrize("intent_id", ["", "cs_test_abc", "pi_a?b"])
async def test_intent_ids_are_checked(api: stripe_api.StripeApi, intent_id: str) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.get_payment_intent(intent_id)
    with pytest.raises(errors.InvariantViolation):
        await api.list_disputes(intent_id)


async def test_list_disputes(state: StripeState, api: stripe_api.StripeApi) -> None:
    created = await api.create_checkout_session(body(), "invoice-7-1")
    state.pay(created["id"])
    intent_id = state.sessions[created["id"]]["payment_intent"]
    assert await api.list_disputes(intent_id) == []
    dispute = state.dispute(created["id"])
    assert await api.list_disputes(intent_id) == [dispute]


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_transient_statuses(
    state: StripeState, api: stripe_api.StripeApi, status: int
) -> None:
    state.faults.fail_next(1, status)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await api.get_checkout_session("cs_test_abc")
    assert info.value.status == status


async def test_timeouts_are_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = mock_api(handler)
    with pytest.raises(errors.TransientUpstreamError, match="timed out"):
        await api.create_checkout_session(body(), "invoice-7-1")
    await api.aclose()


async def test_a_wrong_key_is_permanent_and_never_shown(state: StripeState) -> None:
    wrong = "sk_test_51WrongKeyNobodyConfigured999"
    api = stripe_api.connect(wrong, transport=httpx.ASGITransport(app=create_app(state)))
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.get_checkout_session("cs_test_abc")
    await api.aclose()
    assert info.value.status == 401
    assert "Invalid API Key provided" in info.value.message
    for text in (str(info.value), json.dumps(info.value.to_dict()), repr(info.value.details)):
        assert wrong not in text
    exchange = api.http.recorder.last
    assert exchange is not None
    assert wrong not in json.dumps(exchange.to_dict())


async def test_a_404_that_is_not_resource_missing_is_permanent() -> None:
    api = mock_api(
        lambda request: httpx.Response(
            404, json={"error": {"type": "invalid_request_error", "message": "Unrecognized"}}
        )
    )
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.get_checkout_session("cs_test_abc")
    assert info.value.status == 404
    await api.aclose()


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(404, text="Not Found"),
    ],
)
async def test_answers_that_are_not_json_objects_are_permanent(response: httpx.Response) -> None:
    api = mock_api(lambda request: response)
    with pytest.raises(errors.PermanentUpstreamError, match="without a JSON object"):
        await api.get_checkout_session("cs_test_abc")
    await api.aclose()


@pytest.mark.parametrize(
    "payload", [{"object": "list"}, {"object": "list", "data": [1]}, {"object": "list", "data": {}}]
)
async def test_a_disputes_answer_must_be_a_list(payload: dict[str, Any]) -> None:
    api = mock_api(lambda request: httpx.Response(200, json=payload))
    with pytest.raises(errors.PermanentUpstreamError, match="not a list of disputes"):
        await api.list_disputes("pi_123")
    await api.aclose()


# --- the fetch path gives the webhook path's facts ------------------------------------


async def test_fetched_facts_equal_the_webhook_facts(
    state: StripeState, api: stripe_api.StripeApi
) -> None:
    created = await api.create_checkout_session(body(), "invoice-7-1")
    session_id = created["id"]
    assert await api.session_facts(session_id) == [
        PaymentFact("pending", session_id, "7", 1999, "EUR", False, session_id)
    ]
    state.pay(session_id)
    state.refund(session_id, 500)
    state.refund(session_id)
    state.dispute(session_id)
    webhook = webhook_facts(state)
    fetched = await api.session_facts(session_id)
    assert fetched is not None
    paid, refund, dispute = fetched
    assert paid == webhook["checkout.session.completed"][0]
    assert refund == webhook["charge.refunded"][-1]  # cumulative: the latest one
    assert dispute == webhook["charge.dispute.created"][0]
    # The same keys: a refund fact per charge, the session aliased by its PaymentIntent.
    assert {(f.kind, f.gateway_payment_id, f.gateway_object_id) for f in fetched} == {
        (f.kind, f.gateway_payment_id, f.gateway_object_id)
        for kind, facts in webhook.items()
        if kind != "payment_intent.succeeded"
        for f in facts
    }
    [intent_fact] = webhook["payment_intent.succeeded"]
    assert intent_fact.gateway_payment_id == paid.alias_id
    assert refund.gateway_payment_id == dispute.gateway_payment_id == paid.alias_id
    assert (paid.kind, paid.amount_minor, refund.amount_minor, dispute.kind) == (
        "paid",
        1999,
        1999,
        "dispute",
    )
    assert refund.gateway_object_id.startswith("ch_")
    assert dispute.gateway_object_id.startswith("dp_")
    assert await api.session_facts("cs_test_unknown") is None


@pytest.mark.parametrize(
    ("steps", "event_type", "kind"),
    [
        (["expire"], "checkout.session.expired", "failed"),
        (["pay_delayed"], "checkout.session.completed", "pending"),
        (["pay_delayed", "settle"], "checkout.session.async_payment_succeeded", "paid"),
        (["pay_delayed", "fail"], "checkout.session.async_payment_failed", "failed"),
    ],
)
async def test_session_states_match_their_webhooks(
    state: StripeState, api: stripe_api.StripeApi, steps: list[str], event_type: str, kind: str
) -> None:
    session_id = (await api.create_checkout_session(body(), "invoice-7-1"))["id"]
    for step in steps:
        if step == "fail":
            state.settle(session_id, succeeded=False)
        else:
            getattr(state, step)(session_id)
    fetched = await api.session_facts(session_id)
    assert fetched is not None
    assert fetched == [webhook_facts(state)[event_type][-1]]
    assert fetched[0].kind == kind


# --- facts_from_session on hand-written sessions --------------------------------------


def session(**changes: Any) -> dict[str, Any]:
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 1000,
        "amount_refunded": 0,
        "currency": "usd",
        "disputed": False,
        "metadata": {"invoice_id": "9"},
        "payment_intent": "pi_1",
    }
    base = {
        "id": "cs_live_1",
        "object": "checkout.session",
        "amount_total": 1000,
        "client_reference_id": "9",
        "currency": "usd",
        "livemode": True,
        "metadata": {"invoice_id": "9"},
        "payment_intent": {"id": "pi_1", "status": "succeeded", "latest_charge": charge},
        "payment_status": "paid",
        "status": "complete",
    }
    return {**base, **changes}


def test_a_paid_live_session() -> None:
    [fact] = stripe_events.facts_from_session(session())
    assert fact == PaymentFact("paid", "cs_live_1", "9", 1000, "USD", True, "cs_live_1", "pi_1")


def test_an_unexpanded_payment_intent_is_a_caller_bug() -> None:
    with pytest.raises(errors.InvariantViolation, match="expand"):
        stripe_events.facts_from_session(session(payment_intent="pi_1"))
    unexpanded_charge = {"id": "pi_1", "status": "succeeded", "latest_charge": "ch_1"}
    with pytest.raises(errors.InvariantViolation, match="latest_charge"):
        stripe_events.facts_from_session(session(payment_intent=unexpanded_charge))


def test_a_disputed_charge_needs_its_disputes() -> None:
    disputed = session()
    disputed["payment_intent"]["latest_charge"]["disputed"] = True
    with pytest.raises(errors.InvariantViolation, match="disputed"):
        stripe_events.facts_from_session(disputed)


@pytest.mark.parametrize(
    "changes",
    [{"status": "pending"}, {"object": "payment_intent"}, {"livemode": None}],
)
def test_sessions_we_cannot_read_are_permanent(changes: dict[str, Any]) -> None:
    with pytest.raises(errors.PermanentUpstreamError):
        stripe_events.facts_from_session(session(**changes))


def test_a_session_missing_a_field_is_permanent_with_the_cause() -> None:
    broken = session()
    del broken["amount_total"]
    with pytest.raises(errors.PermanentUpstreamError, match="amount_total") as info:
        stripe_events.facts_from_session(broken)
    assert isinstance(info.value.__cause__, errors.InvalidWebhook)


def test_an_open_session_with_a_declined_attempt_is_still_pending() -> None:
    declined = {"id": "pi_1", "status": "requires_payment_method", "latest_charge": None}
    [fact] = stripe_events.facts_from_session(
        session(status="open", payment_status="unpaid", payment_intent=declined)
    )
    assert (fact.kind, fact.alias_id) == ("pending", "pi_1")
