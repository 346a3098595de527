"""The Stripe simulator speaks API v1's shapes, walks Checkout Sessions, and its notifier
delivers signed events that our verifier accepts and classifies like Stripe's."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling_simulators import _faults
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators._stripe_state import decode_form, delivery_outcome
from fluxbilling_simulators.stripe import StripeNotifier, StripeState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

KEY = "sk_test_51SimulatorKeyForTests000001"
LIVE_KEY = "sk_live_51SimulatorKeyForTests000001"
BASE = "https://stripe.sim"
HOOK = "https://billing.example/webhooks/stripe/main"
SECRET = "whsec_simulator_endpoint_secret"
NOW = 1_764_140_000
FORM: dict[str, str] = {
    "mode": "payment",
    "success_url": "https://billing.example/paid?session={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://billing.example/invoices/7",
    "client_reference_id": "7",
    "metadata[invoice_id]": "7",
    "payment_intent_data[metadata][invoice_id]": "7",
    "line_items[0][quantity]": "1",
    "line_items[0][price_data][currency]": "eur",
    "line_items[0][price_data][unit_amount]": "1999",
    "line_items[0][price_data][product_data][name]": "VPS M",
}


class Clock:
    """Unix seconds that tests move by hand."""

    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class Receiver:
    """Our webhook endpoint's stand-in: answers queued statuses (then 200), keeps requests."""

    def __init__(self) -> None:
        self.answers: deque[int | type[httpx.TransportError]] = deque()
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.popleft() if self.answers else 200
        if isinstance(answer, int):
            return httpx.Response(answer)
        raise answer("simulated", request=request)

    def events(self, now: int = NOW) -> list[stripe_events.StripeEvent]:
        """Every received delivery, verified like our endpoint does, then parsed."""
        for request in self.requests:
            header = request.headers.get(stripe_verify.SIGNATURE_HEADER)
            stripe_verify.verify_signature(request.content, header, [SECRET], now=now)
        return [stripe_events.parse_event(r.content) for r in self.requests]

    def types(self) -> list[str]:
        return [e.type for e in self.events()]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> StripeState:
    return StripeState(
        secret_keys=frozenset({KEY, LIVE_KEY}),
        seed=5,
        clock=clock,
        faults=Faults(timeout_delay=0.01),
    )


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def notifier(state: StripeState, receiver: Receiver) -> AsyncIterator[StripeNotifier]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as client:
        yield StripeNotifier(state, HOOK, SECRET, client=client)


@pytest.fixture
async def api(state: StripeState) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with asgi_client(create_app(state), BASE, headers=headers) as client:
        yield client


async def create(api: httpx.AsyncClient, **changes: str) -> dict[str, Any]:
    response = await api.post("/v1/checkout/sessions", data={**FORM, **changes})
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# --- form decoding ----------------------------------------------------------------------


def test_decode_form_builds_nested_dicts_and_lists() -> None:
    raw = (
        b"a=1&metadata[k]=v&line_items[1][quantity]=2&line_items[0][quantity]=1"
        b"&expand[]=x&expand[]=y&a=2"
    )
    assert decode_form(raw) == {
        "a": "2",
        "metadata": {"k": "v"},
        "line_items": [{"quantity": "1"}, {"quantity": "2"}],
        "expand": ["x", "y"],
    }


@pytest.mark.parametrize("raw", [b"a=1&a[b]=2", b"a[b]=2&a=1", b"[x]=1", b"\xff=1"])
def test_decode_form_rejects_malformed_keys(raw: bytes) -> None:
    with pytest.raises(errors.UserError):
        decode_form(raw)


# --- authentication and errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "You did not provide an API key"),
        ("Bearer ", "You did not provide an API key"),
        ("Bearer sk_test_51SomebodyElsesKey0000000", "Invalid API Key provided: sk_test_"),
        ("Bearer sk_short", "Invalid API Key provided: ***"),
        (f"Basic {KEY}", "Invalid API Key provided"),
    ],
)
async def test_only_configured_bearer_secret_keys_authenticate(
    state: StripeState, header: str | None, message: str
) -> None:
    headers = {"Authorization": header} if header else {}
    async with asgi_client(create_app(state), BASE, headers=headers) as client:
        response = await client.get("/v1/checkout/sessions/cs_test_x")
    assert response.status_code == 401
    body = error(response)
    assert body["type"] == "invalid_request_error"
    assert body["message"].startswith(message)
    assert "SomebodyElsesKey" not in body["message"]  # the key is masked


async def test_any_well_formed_key_works_when_none_is_configured() -> None:
    headers = {"Authorization": "Bearer sk_test_anything"}
    async with asgi_client(create_app(StripeState()), BASE, headers=headers) as client:
        assert (await client.post("/v1/checkout/sessions", data=FORM)).status_code == 200


async def test_responses_carry_stripes_headers(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/checkout/sessions", data=FORM, headers={"Idempotency-Key": "k1"})
    assert response.headers["stripe-version"] == stripe_sim.API_VERSION
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["idempotency-key"] == "k1"
    assert "idempotent-replayed" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers"),
        ("DELETE", "/v1/checkout/sessions/cs_test_x"),
        ("PUT", "/v1/refunds"),
        ("PATCH", "/v2/core/events"),
        ("GET", "/"),
    ],
)
async def test_unknown_urls_use_stripes_shape(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await api.request(method, path)
    assert response.status_code == 404
    assert error(response) == {
        "message": f"Unrecognized request URL ({method}: {path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        "type": "invalid_request_error",
    }


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        ({"line_items[0][quantity]": ""}, "line_items[0][quantity]", "parameter_invalid_integer"),
        ({"line_items[0][quantity]": "0"}, "line_items[0][quantity]", "parameter_invalid"),
        ({"mode": "subscription"}, "mode", "parameter_invalid"),
        ({"success_url": "ftp://x"}, "success_url", "url_invalid"),
        ({"cancel_url": "nope"}, "cancel_url", "url_invalid"),
        ({"metadata": "x"}, "metadata", "parameter_invalid"),
        ({"payment_intent_data": "x"}, "payment_intent_data", "parameter_invalid"),
        ({"payment_intent_data[metadata]": "x"}, "payment_intent_data[metadata]", None),
        ({"expand[]": "customer"}, "expand", "parameter_invalid"),
        ({"expand": "customer"}, "expand", "parameter_invalid"),
        ({"line_items[0][price_data][currency]": "euro"}, None, "parameter_invalid"),
        ({"line_items[0][price_data][product_data][name]": ""}, None, "parameter_missing"),
        ({"line_items[0][price_data][unit_amount]": "9.99"}, None, "parameter_invalid_integer"),
        ({"line_items[1][quantity]": "1", "line_items[1][price_data]": "x"}, None, None),
        ({"line_items[1]": "x"}, "line_items[1]", "parameter_invalid"),
        ({"line_items": "x"}, "line_items", "parameter_missing"),
        ({"coupon": "FREE"}, "coupon", None),
        ({"a[b]": "1", "a": "2"}, None, None),
    ],
)
async def test_invalid_creates_are_400_naming_the_param(
    state: StripeState,
    api: httpx.AsyncClient,
    changes: dict[str, str],
    param: str | None,
    code: str | None,
) -> None:
    replaced = tuple(f"{name}[" for name in changes)
    form = {k: v for k, v in FORM.items() if not k.startswith(replaced)}
    response = await api.post("/v1/checkout/sessions", data={**form, **changes})
    assert response.status_code == 400, response.text
    body = error(response)
    assert body["type"] == "invalid_request_error"
    if param is not None:
        assert body["param"] == param
    if code is not None:
        assert body["code"] == code
    assert state.sessions == {}


@pytest.mark.parametrize("missing", ["mode", "success_url", "line_items[0][quantity]"])
async def test_required_params(api: httpx.AsyncClient, missing: str) -> None:
    form = {k: v for k, v in FORM.items() if k != missing}
    body = error(await api.post("/v1/checkout/sessions", data=form))
    assert (body["code"], body["param"], body["message"]) == (
        "parameter_missing",
        missing,
        f"Missing required param: {missing}.",
    )
    assert body["doc_url"] == "https://stripe.com/docs/error-codes/parameter-missing"


async def test_line_items_share_one_currency(api: httpx.AsyncClient) -> None:
    second = {
        "line_items[1][quantity]": "2",
        "line_items[1][price_data][currency]": "usd",
        "line_items[1][price_data][unit_amount]": "100",
        "line_items[1][price_data][product_data][name]": "IPv4",
    }
    assert (await api.post("/v1/checkout/sessions", data={**FORM, **second})).status_code == 400
    euro = {**second, "line_items[1][price_data][currency]": "EUR"}
    session = await create(api, **euro)
    assert (session["amount_total"], session["currency"]) == (2199, "eur")


# --- sessions over HTTP -----------------------------------------------------------------


async def test_create_answers_an_open_session(state: StripeState, api: httpx.AsyncClient) -> None:
    session = await create(api)
    assert session["id"].startswith("cs_test_a1") and len(session["id"]) == 68
    assert session["object"] == "checkout.session"
    assert (session["status"], session["payment_status"], session["livemode"]) == (
        "open",
        "unpaid",
        False,
    )
    assert (session["amount_total"], session["currency"], session["client_reference_id"]) == (
        1999,
        "eur",
        "7",
    )
    assert session["metadata"] == {"invoice_id": "7"}
    assert session["payment_intent"] is None
    assert session["url"] == f"{BASE}/c/pay/{session['id']}"
    assert session["expires_at"] == NOW + 24 * 3600
    assert not any(key.startswith("_") for key in session)
    got = await api.get(f"/v1/checkout/sessions/{session['id']}")
    assert got.json() == session
    assert state.queue == deque()  # creating sends no event


async def test_idempotency_replays_the_saved_response(
    state: StripeState, api: httpx.AsyncClient, clock: Clock
) -> None:
    headers = {"Idempotency-Key": "invoice-7-1"}
    first = await api.post("/v1/checkout/sessions", data=FORM, headers=headers)
    state.expire(first.json()["id"])
    clock.now += 5
    again = await api.post("/v1/checkout/sessions", data=FORM, headers=headers)
    assert again.json() == first.json()  # the saved response, not today's state
    assert again.json()["status"] == "open"
    assert again.headers["idempotent-replayed"] == "true"
    other = await api.post(
        "/v1/checkout/sessions", data={**FORM, "client_reference_id": "8"}, headers=headers
    )
    assert other.status_code == 400
    body = error(other)
    assert body["type"] == "idempotency_error"
    assert "'invoice-7-1'" in body["message"]
    live = {"Authorization": f"Bearer {LIVE_KEY}", **headers}
    scoped = await api.post("/v1/checkout/sessions", data=FORM, headers=live)
    assert scoped.json()["id"].startswith("cs_live_")  # keys are scoped to the secret key
    assert len(state.sessions) == 2


async def test_failed_validation_is_not_saved(state: StripeState, api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "invoice-7-1"}
    bad = await api.post("/v1/checkout/sessions", data={**FORM, "mode": ""}, headers=headers)
    assert bad.status_code == 400
    good = await api.post("/v1/checkout/sessions", data=FORM, headers=headers)
    assert good.status_code == 200
    assert state.idempotency[(KEY, "invoice-7-1")].body == good.json()


async def test_expand_on_get(state: StripeState, api: httpx.AsyncClient) -> None:
    session_id = (await create(api))["id"]
    state.pay(session_id)
    url = f"/v1/checkout/sessions/{session_id}"
    plain = (await api.get(url)).json()
    assert plain["payment_intent"].startswith("pi_") and plain["url"] is None
    one = (await api.get(url, params={"expand[0]": "payment_intent"})).json()
    assert one["payment_intent"]["latest_charge"].startswith("ch_")
    both = await api.get(url, params=[("expand[]", "payment_intent.latest_charge")])
    charge = both.json()["payment_intent"]["latest_charge"]
    assert (charge["status"], charge["metadata"]) == ("succeeded", {"invoice_id": "7"})
    intent = await api.get(f"/v1/payment_intents/{plain['payment_intent']}?expand[]=latest_charge")
    assert intent.json()["latest_charge"] == charge
    bad = await api.get(url, params={"expand[]": "line_items"})
    assert (bad.status_code, error(bad)["message"]) == (
        400,
        "This property cannot be expanded (line_items).",
    )
    bad = await api.get(f"/v1/payment_intents/{plain['payment_intent']}?expand[]=customer")
    assert bad.status_code == 400


async def test_missing_objects_and_other_modes(state: StripeState, api: httpx.AsyncClient) -> None:
    missing = await api.get("/v1/checkout/sessions/cs_test_nope")
    assert missing.status_code == 404
    assert error(missing) == {
        "message": "No such checkout.session: 'cs_test_nope'",
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "session",
    }
    wrong_kind = await api.get("/v1/payment_intents/cs_test_nope")
    assert error(wrong_kind)["param"] == "intent"
    live = await api.post(
        "/v1/checkout/sessions", data=FORM, headers={"Authorization": f"Bearer {LIVE_KEY}"}
    )
    other_mode = await api.get(f"/v1/checkout/sessions/{live.json()['id']}")
    assert other_mode.status_code == 404
    assert (
        "a similar object exists in live mode, but a test mode key"
        in (error(other_mode)["message"])
    )


async def test_list_disputes_filters(state: StripeState, api: httpx.AsyncClient) -> None:
    first, second = (await create(api))["id"], (await create(api))["id"]
    for session_id in (first, second):
        state.pay(session_id)
    disputes = [state.dispute(first), state.dispute(second)]
    intent = state.sessions[first]["payment_intent"]
    listed = (await api.get("/v1/disputes", params={"payment_intent": intent})).json()
    assert listed == {
        "object": "list",
        "data": [disputes[0]],
        "has_more": False,
        "url": "/v1/disputes",
    }
    by_charge = await api.get("/v1/disputes", params={"charge": disputes[1]["charge"]})
    assert by_charge.json()["data"] == [disputes[1]]
    page = (await api.get("/v1/disputes", params={"limit": "1"})).json()
    assert (page["data"], page["has_more"]) == ([disputes[1]], True)  # newest first
    live = await api.get("/v1/disputes", headers={"Authorization": f"Bearer {LIVE_KEY}"})
    assert live.json()["data"] == []
    for limit in ("0", "101", "x"):
        bad = await api.get("/v1/disputes", params={"limit": limit})
        assert error(bad)["code"] == "parameter_invalid_integer"


# --- driving sessions: events verify and classify -------------------------------------


async def test_pay_queues_intent_then_session_events(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    session_id = (await create(api))["id"]
    paid = state.pay(session_id)
    assert (paid["status"], paid["payment_status"], paid["url"]) == ("complete", "paid", None)
    intent = state.intents[paid["payment_intent"]]
    charge = state.charges[intent["latest_charge"]]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 1999)
    assert (charge["status"], charge["paid"], charge["metadata"]) == (
        "succeeded",
        True,
        {"invoice_id": "7"},
    )
    attempts = await notifier.deliver_all()
    assert [a.outcome for a in attempts] == ["delivered", "delivered"]
    events = receiver.events()
    assert [e.type for e in events] == ["payment_intent.succeeded", "checkout.session.completed"]
    assert {e.livemode for e in events} == {False}
    assert all(e.id.startswith("evt_") and e.created == NOW for e in events)
    intent_fact, session_fact = (stripe_events.classify(e) for e in events)
    assert (session_fact.kind, session_fact.gateway_payment_id, session_fact.alias_id) == (
        "paid",
        session_id,
        intent["id"],
    )
    assert (session_fact.invoice_ref, session_fact.amount_minor, session_fact.currency) == (
        "7",
        1999,
        "EUR",
    )
    assert (intent_fact.kind, intent_fact.gateway_payment_id, intent_fact.invoice_ref) == (
        "paid",
        intent["id"],
        "7",
    )
    request = receiver.requests[0]
    assert (request.method, str(request.url)) == ("POST", HOOK)
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"] == stripe_sim.USER_AGENT
    payload = json.loads(request.content)
    assert payload["api_version"] == stripe_sim.API_VERSION
    assert payload["data"]["object"]["latest_charge"] == charge["id"]  # ids, not objects


async def test_expire(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    session_id = (await create(api))["id"]
    assert state.expire(session_id)["status"] == "expired"
    await notifier.deliver_all()
    [event] = receiver.events()
    fact = stripe_events.classify(event)
    assert (event.type, fact.kind, fact.gateway_payment_id, fact.alias_id) == (
        "checkout.session.expired",
        "failed",
        session_id,
        "",
    )
    assert (await api.get(f"/v1/checkout/sessions/{session_id}")).json()["url"] is None


async def test_refunds_are_cumulative_and_snapshots_stay_put(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    session_id = (await create(api))["id"]
    state.pay(session_id)
    partial = state.refund(session_id, 500)
    assert partial["id"].startswith("re_") and partial["amount"] == 500
    rest = state.refund(session_id)
    assert rest["amount"] == 1499
    await notifier.deliver_all()
    refunds = [e for e in receiver.events() if e.type == "charge.refunded"]
    assert [e.object["amount_refunded"] for e in refunds] == [500, 1999]
    assert [e.object["refunded"] for e in refunds] == [False, True]
    facts = [stripe_events.classify(e) for e in refunds]
    intent_id = state.sessions[session_id]["payment_intent"]
    charge_id = state.intents[intent_id]["latest_charge"]
    assert {(f.kind, f.gateway_payment_id, f.gateway_object_id) for f in facts} == {
        ("refund", intent_id, charge_id)
    }
    assert [f.amount_minor for f in facts] == [500, 1999]


async def test_dispute(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    session_id = (await create(api))["id"]
    state.pay(session_id)
    dispute = state.dispute(session_id, reason="product_not_received")
    await notifier.deliver_all()
    event = receiver.events()[-1]
    fact = stripe_events.classify(event)
    assert event.type == "charge.dispute.created"
    assert event.object["reason"] == "product_not_received"
    assert (fact.kind, fact.gateway_object_id, fact.amount_minor) == (
        "dispute",
        dispute["id"],
        1999,
    )
    assert fact.gateway_payment_id == state.sessions[session_id]["payment_intent"]
    assert state.charges[dispute["charge"]]["disputed"] is True


@pytest.mark.parametrize(
    ("succeeded", "types", "kinds"),
    [
        (
            True,
            ["payment_intent.succeeded", "checkout.session.async_payment_succeeded"],
            ["paid", "paid"],
        ),
        (
            False,
            ["payment_intent.payment_failed", "checkout.session.async_payment_failed"],
            ["failed", "failed"],
        ),
    ],
)
async def test_delayed_payments(
    state: StripeState,
    api: httpx.AsyncClient,
    notifier: StripeNotifier,
    receiver: Receiver,
    succeeded: bool,
    types: list[str],
    kinds: list[str],
) -> None:
    session_id = (await create(api))["id"]
    waiting = state.pay_delayed(session_id)
    assert (waiting["status"], waiting["payment_status"]) == ("complete", "unpaid")
    state.settle(session_id, succeeded=succeeded)
    await notifier.deliver_all()
    events = receiver.events()
    assert [e.type for e in events] == [
        "payment_intent.processing",
        "checkout.session.completed",
        *types,
    ]
    assert [stripe_events.classify(e).kind for e in events] == ["pending", "pending", *kinds]


@pytest.mark.parametrize(
    ("steps", "then"),
    [
        (["pay"], "pay"),
        (["pay"], "expire"),
        (["expire"], "pay"),
        (["expire"], "pay_delayed"),
        ([], "refund"),
        ([], "dispute"),
        (["pay_delayed"], "refund"),
        (["pay"], "settle"),
        ([], "settle"),
        (["pay", "dispute"], "dispute"),
        (["pay", "refund"], "refund"),
    ],
)
async def test_illegal_moves_are_conflicts(
    state: StripeState, api: httpx.AsyncClient, steps: list[str], then: str
) -> None:
    session_id = (await create(api))["id"]
    for step in steps:
        getattr(state, step)(session_id)
    queued = len(state.queue)
    with pytest.raises(errors.Conflict):
        getattr(state, then)(session_id)
    assert len(state.queue) == queued


@pytest.mark.parametrize("amount", [0, 2000, True])
async def test_refund_amounts_are_checked(
    state: StripeState, api: httpx.AsyncClient, amount: int
) -> None:
    session_id = (await create(api))["id"]
    state.pay(session_id)
    with pytest.raises(errors.Conflict):
        state.refund(session_id, amount)
    with pytest.raises(errors.NotFound):
        state.refund("cs_test_unknown")


# --- notifier ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (200, "delivered"),
        (201, "delivered"),
        (204, "delivered"),
        (301, "retry"),
        (400, "retry"),
        (404, "retry"),
        (500, "retry"),
        (httpx.ReadTimeout, "retry"),
        (httpx.ConnectError, "retry"),
    ],
)
async def test_any_2xx_delivers_everything_else_is_retried(
    state: StripeState,
    api: httpx.AsyncClient,
    notifier: StripeNotifier,
    receiver: Receiver,
    answer: int | type[httpx.TransportError],
    outcome: str,
) -> None:
    state.expire((await create(api))["id"])
    receiver.answers.append(answer)
    attempt = await notifier.deliver_next()
    assert attempt is not None
    assert attempt.outcome == outcome
    assert attempt.http_status == (answer if isinstance(answer, int) else None)
    expected_error = {httpx.ReadTimeout: "timeout", httpx.ConnectError: "ConnectError"}
    assert attempt.error == (None if isinstance(answer, int) else expected_error[answer])
    event = state.events[attempt.event_id]
    assert event.state == ("queued" if outcome == "retry" else "delivered")
    assert (event.id in state.queue) is (outcome == "retry")
    assert state.attempts == [attempt]


async def test_each_attempt_is_signed_afresh_and_gives_up(
    state: StripeState,
    api: httpx.AsyncClient,
    notifier: StripeNotifier,
    receiver: Receiver,
    clock: Clock,
) -> None:
    state.expire((await create(api))["id"])
    receiver.answers.extend([500] * 10)
    attempts = []
    for _ in range(6):
        attempt = await notifier.deliver_next()
        clock.now += 3600
        if attempt is not None:
            attempts.append(attempt)
    assert [a.outcome for a in attempts] == ["retry", "retry", "retry", "gave_up"]
    assert [a.signed_at for a in attempts] == [NOW + 3600 * i for i in range(4)]
    headers = [r.headers[stripe_verify.SIGNATURE_HEADER] for r in receiver.requests]
    assert len(set(headers)) == 4
    assert len({r.content for r in receiver.requests}) == 1  # the same body every time
    late = receiver.requests[-1]
    stripe_verify.verify_signature(
        late.content, late.headers[stripe_verify.SIGNATURE_HEADER], [SECRET], now=NOW + 3 * 3600
    )
    assert state.events[attempts[0].event_id].state == "gave_up"
    assert notifier.queued == []


def test_delivery_outcome() -> None:
    assert delivery_outcome(299, 9, 3) == "delivered"
    assert delivery_outcome(None, 3, 3) == "retry"
    assert delivery_outcome(500, 4, 3) == "gave_up"


async def test_deliver_until_settled_and_overtaking(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    state.pay((await create(api))["id"])
    receiver.answers.append(503)
    attempts = await notifier.deliver_until_settled()
    assert [a.outcome for a in attempts] == ["retry", "delivered", "delivered"]
    assert receiver.types() == [
        "payment_intent.succeeded",
        "checkout.session.completed",
        "payment_intent.succeeded",
    ]
    assert await notifier.deliver_next() is None


async def test_redeliver_resends_without_requeueing(
    state: StripeState,
    api: httpx.AsyncClient,
    notifier: StripeNotifier,
    receiver: Receiver,
    clock: Clock,
) -> None:
    state.expire((await create(api))["id"])
    [first] = await notifier.deliver_all()
    clock.now += 60
    again = await notifier.redeliver(first.event_id)
    assert (again.manual, again.attempt, again.outcome, again.signed_at) == (
        True,
        2,
        "delivered",
        NOW + 60,
    )
    assert receiver.requests[0].content == receiver.requests[1].content
    assert state.queue == deque()
    with pytest.raises(errors.NotFound):
        await notifier.redeliver("evt_unknown")


async def test_reorder_deliver_one_and_drop(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    session_id = (await create(api))["id"]
    state.pay(session_id)
    state.refund(session_id, 100)
    state.dispute(session_id)
    intent, session, refund, dispute = list(state.queue)
    notifier.reorder([session, intent, dispute, refund])
    with pytest.raises(errors.Conflict):
        notifier.reorder([session])
    assert (await notifier.deliver(dispute)).outcome == "delivered"
    with pytest.raises(errors.Conflict):
        await notifier.deliver(dispute)
    assert notifier.drop(refund).state == "dropped"
    assert notifier.event(refund).state == "dropped"
    with pytest.raises(errors.Conflict):
        notifier.drop(refund)
    with pytest.raises(errors.NotFound):
        notifier.drop("evt_unknown")
    with pytest.raises(errors.NotFound):
        notifier.event("evt_unknown")
    await notifier.deliver_all()
    assert receiver.types() == [
        "charge.dispute.created",
        "checkout.session.completed",
        "payment_intent.succeeded",
    ]
    assert [e.state for e in state.events.values()] == [
        "delivered",
        "delivered",
        "dropped",
        "delivered",
    ]


async def test_rolled_secrets_sign_twice_and_fresh_clients_work(
    state: StripeState, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    state.expire((await create(api))["id"])
    notifier = StripeNotifier(
        state,
        HOOK,
        "whsec_new",
        transport=httpx.MockTransport(receiver.handler),
        extra_secrets=[SECRET],
    )
    [attempt] = await notifier.deliver_all()
    assert attempt.outcome == "delivered"
    request = receiver.requests[0]
    header = request.headers[stripe_verify.SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    for secret in ("whsec_new", SECRET):
        stripe_verify.verify_signature(request.content, header, [secret], now=NOW)


async def test_rounds_are_bounded(
    state: StripeState, api: httpx.AsyncClient, notifier: StripeNotifier, receiver: Receiver
) -> None:
    state.expire((await create(api))["id"])
    receiver.answers.extend([500, 500])
    attempts = await notifier.deliver_until_settled(max_rounds=2)
    assert [a.outcome for a in attempts] == ["retry", "retry"]
    assert len(notifier.queued) == 1


def test_stateless_builders_classify_like_stripes_events() -> None:
    refunded = stripe_events.parse_event(stripe_sim.charge_refunded("pi_1", 1000, 250, "EUR"))
    fact = stripe_events.classify(refunded)
    assert (fact.kind, fact.gateway_payment_id, fact.amount_minor) == ("refund", "pi_1", 250)
    assert fact.gateway_object_id.startswith("ch_")
    assert refunded.object["refunded"] is False


def test_signed_headers_keep_their_old_signature() -> None:
    body = stripe_sim.dispute_created("pi_1", 100, "EUR", created=NOW)
    headers = stripe_sim.signed_headers(body, SECRET, NOW)
    assert headers[stripe_verify.SIGNATURE_HEADER] == stripe_verify.sign(body, SECRET, NOW)
    stripe_verify.verify_signature(body, headers[stripe_verify.SIGNATURE_HEADER], [SECRET], now=NOW)


# --- checkout page, controls, inspection ------------------------------------------------


async def test_checkout_page_pays_and_redirects(state: StripeState, receiver: Receiver) -> None:
    notifier = StripeNotifier(state, HOOK, SECRET, transport=httpx.MockTransport(receiver.handler))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with asgi_client(create_app(state, notifier), BASE, headers=headers) as client:
        session = await create(client)
        page = await client.get(session["url"])
        assert page.status_code == 200
        assert 'value="pay"' in page.text and "1999 EUR" in page.text
        paid = await client.post(session["url"], data={"action": "pay"})
        assert paid.status_code == 303
        assert paid.headers["location"] == f"https://billing.example/paid?session={session['id']}"
        gone = await client.get(session["url"])
        assert "no longer active" in gone.text
        assert (await client.get("/c/pay/cs_test_unknown")).status_code == 404
        other = await create(client)
        back = await client.post(other["url"], data={"action": "cancel"})
        assert (back.status_code, back.headers["location"]) == (303, FORM["cancel_url"])
        assert (await client.post(other["url"], data={"action": "nope"})).status_code == 400
        delayed = await client.post(other["url"], data={"action": "pay_delayed"})
        assert delayed.status_code == 303
    assert state.sessions[session["id"]]["payment_status"] == "paid"
    assert state.sessions[other["id"]]["payment_status"] == "unpaid"
    assert receiver.types() == [  # delivered in the background, after each redirect
        "payment_intent.succeeded",
        "checkout.session.completed",
        "payment_intent.processing",
        "checkout.session.completed",
    ]


async def test_steering_over_http(state: StripeState, receiver: Receiver) -> None:
    notifier = StripeNotifier(state, HOOK, SECRET, transport=httpx.MockTransport(receiver.handler))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with asgi_client(create_app(state, notifier), BASE, headers=headers) as client:
        first, second = (await create(client))["id"], (await create(client))["id"]
        sim = f"/_sim/sessions/{first}"
        assert (await client.post(f"{sim}/pay")).json()["payment_status"] == "paid"
        refund = await client.post(f"{sim}/refund", json={"amount_minor": 99})
        assert refund.json()["amount"] == 99
        dispute = await client.post(f"{sim}/dispute", json={"reason": "duplicate"})
        assert dispute.json()["reason"] == "duplicate"
        conflict = await client.post(f"{sim}/expire")
        assert conflict.status_code == 409
        assert (await client.post(f"/_sim/sessions/{second}/pay_delayed")).status_code == 200
        failed = await client.post(f"/_sim/sessions/{second}/settle", json={"succeeded": False})
        assert failed.json()["payment_status"] == "unpaid"
        assert (await client.post("/_sim/sessions/cs_test_x/pay")).status_code == 404
        assert (await client.post(f"{sim}/explode")).status_code == 404
        assert (await client.post(f"{sim}/pay", content=b"[1]")).status_code == 400
        assert (await client.post(f"{sim}/pay", content=b"{nope")).status_code == 400
        receiver.answers.append(500)
        await client.post(f"/_sim/sessions/{(await create(client))['id']}/expire")
        again = await client.post("/_sim/events/deliver")
        assert again.json() == {"attempts": 1, "queued": 0}
        dump = (await client.get("/_sim/state")).json()
    assert len(receiver.requests) == 10
    assert [s["status"] for s in dump["sessions"]] == ["complete", "complete", "expired"]
    assert dump["sessions"][2]["url"] is None
    assert [e["state"] for e in dump["events"]] == ["delivered"] * 9
    assert "body" not in dump["events"][0]
    assert [a["outcome"] for a in dump["attempts"]][-2:] == ["retry", "delivered"]
    assert dump["queue"] == []
    assert len(dump["refunds"]) == len(dump["disputes"]) == 1
    assert dump["requests"] == 3
    assert KEY not in json.dumps(dump)


async def test_without_a_notifier_nothing_is_delivered(
    state: StripeState, api: httpx.AsyncClient
) -> None:
    session_id = (await create(api))["id"]
    assert (await api.post(f"/_sim/sessions/{session_id}/pay")).status_code == 200
    assert (await api.post("/_sim/events/deliver")).status_code == 404
    assert len(state.queue) == 2


# --- faults -----------------------------------------------------------------------------


async def test_forced_faults_use_stripes_error_shape(
    state: StripeState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(1, 503)
    state.faults.fail_next(1, 429)
    state.faults.fail_next(1, 418)
    first, second, third = [await api.get("/v1/checkout/sessions/cs_test_x") for _ in range(3)]
    assert (first.status_code, error(first)) == (
        503,
        {"message": "An unknown error occurred", "type": "api_error"},
    )
    assert (second.status_code, error(second)["code"]) == (429, "rate_limit")
    assert (third.status_code, error(third)["type"]) == (418, "invalid_request_error")
    state.faults.fail_next(1, "timeout")
    assert (await api.post("/v1/checkout/sessions", data=FORM)).status_code == 200
    assert len(state.sessions) == 1
    assert state.requests == 4


async def test_crash_after_create_and_key_in_use(
    state: StripeState, api: httpx.AsyncClient
) -> None:
    state.faults.crash_next_create()
    crashed = await api.post("/v1/checkout/sessions", data=FORM)
    assert (crashed.status_code, error(crashed)["type"]) == (503, "api_error")
    assert len(state.sessions) == 1
    state.faults.exists_next()
    busy = await api.post("/v1/checkout/sessions", data=FORM, headers={"Idempotency-Key": "k"})
    assert busy.status_code == 409
    assert error(busy)["code"] == "idempotency_key_in_use"
    assert busy.headers["stripe-should-retry"] == "true"
    assert len(state.sessions) == 1
    state.faults.crash_after_create = True
    assert (await api.post("/v1/checkout/sessions", data=FORM)).status_code == 503
    assert len(state.sessions) == 2


def test_random_faults_and_ids_are_seeded() -> None:
    def run(seed: int) -> tuple[list[int | str | None], str]:
        state = StripeState(faults=Faults(seed=seed, fail_rate=0.5), seed=seed)
        return [state.faults.next_fault() for _ in range(40)], state.new_id("pi_")

    assert run(3) == run(3)
    assert run(3)[1] != run(4)[1]
    assert {500, 503, "timeout", None} <= set(run(3)[0])


# --- standalone -------------------------------------------------------------------------


async def test_main_wires_options_into_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[Any, Any]] = []
    monkeypatch.setattr(_faults, "serve", lambda app, args: served.append((app, args)))
    stripe_sim.main(
        [
            "--port",
            "9997",
            "--secret-key",
            KEY,
            "--webhook-url",
            "http://127.0.0.1:1/webhooks/stripe/main",
            "--webhook-secret",
            SECRET,
        ]
    )
    stripe_sim.main(["--port", "9996"])
    (app, args), (bare, _) = served
    assert (args.port, args.secret_key, args.webhook_secret) == (9997, [KEY], SECRET)
    async with asgi_client(app, BASE) as client:
        ok = await client.post(
            "/v1/checkout/sessions", data=FORM, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert ok.status_code == 200
        other = await client.get(
            "/v1/disputes", headers={"Authorization": "Bearer sk_test_someoneelse"}
        )
        assert other.status_code == 401
    async with asgi_client(bare, BASE) as client:
        assert (await client.post("/_sim/events/deliver")).status_code == 404


# --- lists, refunds and expire over HTTP --------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "param"),
    [
        ("created[gt]=x", 400, "created[gt]"),
        ("created[near]=1", 400, "created[near]"),
        ("created=soon", 400, "created"),
        ("type[a]=b", 400, "type"),
        ("types=one", 400, "types"),
        ("delivery_success=maybe", 400, "delivery_success"),
        ("starting_after=evt_a&ending_before=evt_b", 400, "ending_before"),
        ("ending_before=evt_nope", 404, "ending_before"),
        ("limit=0", 400, "limit"),
    ],
)
async def test_event_list_refusals(
    api: httpx.AsyncClient, query: str, status: int, param: str
) -> None:
    response = await api.get(f"/v1/events?{query}")
    assert (response.status_code, error(response)["param"]) == (status, param)


async def test_list_filters_by_created_and_many_types(
    state: StripeState, clock: Clock, api: httpx.AsyncClient
) -> None:
    first = await create(api)
    clock.now += 100
    second = await create(api)
    exact = (await api.get(f"/v1/checkout/sessions?created={NOW}")).json()["data"]
    assert [s["id"] for s in exact] == [first["id"]]
    window = await api.get(f"/v1/checkout/sessions?created[gt]={NOW}&created[lte]={NOW + 100}")
    assert [s["id"] for s in window.json()["data"]] == [second["id"]]
    state.pay(first["id"])
    state.expire(second["id"])
    types = "types[]=checkout.session.expired&types[]=payment_intent.succeeded"
    found = (await api.get(f"/v1/events?{types}")).json()["data"]
    assert [e["type"] for e in found] == ["checkout.session.expired", "payment_intent.succeeded"]
    too_many = "&".join(f"types[]=t{i}" for i in range(21))
    assert error(await api.get(f"/v1/events?{too_many}"))["param"] == "types"
    malformed = await api.get("/v1/events?a[b=1")
    assert malformed.status_code == 400


async def test_refund_by_charge_of_another_intent_and_unpaid_charge(
    state: StripeState, api: httpx.AsyncClient
) -> None:
    paid, delayed = (await create(api))["id"], (await create(api))["id"]
    state.pay(paid)
    state.pay_delayed(delayed)
    intent = state.intents[state.sessions[paid]["payment_intent"]]
    pending = state.intents[state.sessions[delayed]["payment_intent"]]
    mixed = await api.post(
        "/v1/refunds", data={"payment_intent": intent["id"], "charge": pending["latest_charge"]}
    )
    assert (mixed.status_code, error(mixed)["param"]) == (400, "charge")
    unpaid = await api.post("/v1/refunds", data={"charge": pending["latest_charge"]})
    assert "does not have a successful charge" in error(unpaid)["message"]
    for body in ({"charge[x]": "1"}, {"charge": intent["latest_charge"], "amount": "0"}):
        assert (await api.post("/v1/refunds", data=body)).status_code == 400
    assert state.refunds == {}
    refunded = await api.post(
        "/v1/refunds",
        data={"charge": intent["latest_charge"], "metadata[ticket]": "T-1", "amount": "99"},
    )
    assert refunded.json()["metadata"] == {"ticket": "T-1"}
    assert state.charges[intent["latest_charge"]]["amount_refunded"] == 99


async def test_expire_refusals(state: StripeState, api: httpx.AsyncClient) -> None:
    session = await create(api)
    missing = await api.post("/v1/checkout/sessions/cs_test_nope/expire")
    assert (missing.status_code, error(missing)["code"]) == (404, "resource_missing")
    unknown = await api.post(f"/v1/checkout/sessions/{session['id']}/expire", data={"x": "1"})
    assert (unknown.status_code, error(unknown)["param"]) == (400, "x")
    expired = await api.post(
        f"/v1/checkout/sessions/{session['id']}/expire", headers={"Idempotency-Key": "e1"}
    )
    assert expired.json()["status"] == "expired"
    replay = await api.post(
        f"/v1/checkout/sessions/{session['id']}/expire", headers={"Idempotency-Key": "e1"}
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert [e.type for e in state.events.values()] == ["checkout.session.expired"]


async def test_events_are_per_mode(state: StripeState, api: httpx.AsyncClient) -> None:
    session = await create(api)
    state.pay(session["id"])
    event_id = next(iter(state.events))
    live = {"Authorization": f"Bearer {LIVE_KEY}"}
    hidden = await api.get(f"/v1/events/{event_id}", headers=live)
    assert (hidden.status_code, error(hidden)["code"]) == (404, "resource_missing")
    shown = (await api.get(f"/v1/events/{event_id}")).json()
    assert (shown["id"], shown["pending_webhooks"]) == (event_id, 1)
