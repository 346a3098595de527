"""Stripe's own Python library (``stripe``) against the Stripe simulator on a real socket.

Every call our client (`billing.gateways.stripe.api`) makes, the webhook check our endpoint does
(`stripe.Webhook.construct_event` on the simulator's signed deliveries), and what an operator
reaches for first: events, refunds, charges, PaymentIntents, Checkout Sessions (list,
expire). Errors must come back as the library's own exception classes with Stripe's code,
param and HTTP status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import stripe

from fluxbilling.billing.gateways.stripe import api as stripe_api
from fluxbilling.billing.gateways.stripe import checkout as stripe_checkout
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling_simulators.stripe import StripeNotifier, StripeState, create_app
from tests.integration.conformance import serving

KEY = "sk_test_51ConformanceKeyForTests0001"
LIVE_KEY = "sk_live_51ConformanceKeyForTests0001"
SECRET = "whsec_conformance_endpoint_secret"
HOOK = "https://billing.example/webhooks/stripe/main"


@pytest.fixture(scope="module")
def state() -> StripeState:
    return StripeState(secret_keys=frozenset({KEY, LIVE_KEY}), seed=11)


@pytest.fixture(scope="module")
def base_url(state: StripeState) -> Iterator[str]:
    with serving(create_app(state)) as url:
        yield url


def connect(base_url: str, key: str = KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": base_url}, max_network_retries=0)


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return connect(base_url)


def checkout(client: stripe.StripeClient, invoice_id: int, amount: int = 1999) -> Any:
    """A session created with exactly the parameters our checkout code sends."""
    params = stripe_checkout.checkout_request(
        invoice_id,
        amount,
        "EUR",
        "https://billing.example/paid?session={CHECKOUT_SESSION_ID}",
        f"https://billing.example/invoices/{invoice_id}",
        f"Invoice {invoice_id}",
    )
    return client.v1.checkout.sessions.create(
        params,  # type: ignore[arg-type]
        {"idempotency_key": f"invoice-{invoice_id}-1"},
    )


def pay(session: Any, action: str = "pay") -> str:
    """The customer pays on the simulator's checkout page; the redirect target."""
    answer = requests.post(session.url, data={"action": action}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    return answer.headers["location"]


def paid_session(client: stripe.StripeClient, invoice_id: int, amount: int = 1999) -> Any:
    session = checkout(client, invoice_id, amount)
    pay(session)
    return client.v1.checkout.sessions.retrieve(
        session.id, {"expand": list(stripe_api.SESSION_EXPAND)}
    )


# --- the calls our client makes -----------------------------------------------------------


def test_checkout_session_create_is_idempotent_and_round_trips(
    client: stripe.StripeClient,
) -> None:
    session = checkout(client, 101)
    assert (session.object, session.status, session.payment_status) == (
        "checkout.session",
        "open",
        "unpaid",
    )
    assert (session.amount_total, session.currency, session.client_reference_id) == (
        1999,
        "eur",
        "101",
    )
    assert session.metadata.to_dict() == {"invoice_id": "101"}
    again = checkout(client, 101)
    assert again.id == session.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    fetched = client.v1.checkout.sessions.retrieve(session.id)
    assert fetched.to_dict() == session.to_dict()


def test_a_key_reused_with_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    checkout(client, 102)
    with pytest.raises(stripe.IdempotencyError) as raised:
        checkout(client, 102, amount=500)
    assert raised.value.http_status == 400
    assert "same parameters" in str(raised.value.user_message)


def test_paid_session_expands_its_payment_intent_and_charge(client: stripe.StripeClient) -> None:
    session = checkout(client, 103)
    target = pay(session)
    assert target == f"https://billing.example/paid?session={session.id}"
    fetched = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": list(stripe_api.SESSION_EXPAND)}
    )
    assert (fetched.status, fetched.payment_status, fetched.url) == ("complete", "paid", None)
    intent = fetched.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.status, intent.amount_received, intent.metadata["invoice_id"]) == (
        "succeeded",
        1999,
        "103",
    )
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.status, charge.paid, charge.amount_refunded) == ("succeeded", True, 0)
    direct = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
    assert direct.to_dict() == intent.to_dict()
    # Our reading of the fetched session is what the webhook would have said.
    facts = stripe_events.facts_from_session(fetched.to_dict(), [])
    assert [(f.kind, f.amount_minor) for f in facts] == [("paid", 1999)]


def test_disputes_are_listed_by_payment_intent_and_retrievable(
    client: stripe.StripeClient, state: StripeState
) -> None:
    session = paid_session(client, 104)
    state.dispute(session.id)
    listed = client.v1.disputes.list({"payment_intent": session.payment_intent.id, "limit": 100})
    [dispute] = listed.data
    assert (dispute.reason, dispute.status, dispute.amount) == (
        "fraudulent",
        "needs_response",
        1999,
    )
    assert client.v1.disputes.retrieve(dispute.id).to_dict() == dispute.to_dict()
    charge = client.v1.charges.retrieve(str(dispute.charge))
    assert charge.disputed is True


def test_deliveries_verify_with_construct_event_and_match_the_events_api(
    client: stripe.StripeClient, state: StripeState
) -> None:
    received: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    state.queue.clear()
    session = paid_session(client, 105)
    notifier = StripeNotifier(state, HOOK, SECRET, transport=httpx.MockTransport(endpoint))
    asyncio.run(notifier.deliver_all())
    assert len(received) == 2
    for request in received:
        header = request.headers["Stripe-Signature"]
        event = stripe.Webhook.construct_event(request.content, header, SECRET)
        fetched = client.v1.events.retrieve(event.id)
        assert (fetched.type, fetched.data.object["id"]) == (event.type, event.data.object["id"])
        assert fetched.pending_webhooks == 0
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(request.content, header, "whsec_someone_else")
    completed = stripe.Webhook.construct_event(
        received[1].content, received[1].headers["Stripe-Signature"], SECRET
    )
    assert (completed.type, completed.data.object["id"]) == (
        "checkout.session.completed",
        session.id,
    )


# --- what an operator uses ----------------------------------------------------------------


def test_events_list_filters_and_pages_newest_first(
    base_url: str, client: stripe.StripeClient
) -> None:
    # The live key sees only this test's objects: a clean list to page through.
    live = connect(base_url, LIVE_KEY)
    for invoice_id in (201, 202, 203):
        paid_session(live, invoice_id)
    every = live.v1.events.list({"limit": 100})
    assert len(every.data) == 6 and every.has_more is False
    assert every.url == "/v1/events"
    created = [e.created for e in every.data]
    assert created == sorted(created, reverse=True)
    paged = [e.id for e in live.v1.events.list({"limit": 2}).auto_paging_iter()]
    assert paged == [e.id for e in every.data]
    first = live.v1.events.list({"limit": 2})
    assert first.has_more is True
    older = live.v1.events.list({"limit": 2, "starting_after": first.data[-1].id})
    back = live.v1.events.list({"limit": 2, "ending_before": older.data[0].id})
    assert [e.id for e in back.data] == [e.id for e in first.data]
    assert back.has_more is False
    wildcard = live.v1.events.list({"type": "checkout.session.*"})
    assert {e.type for e in wildcard.data} == {"checkout.session.completed"}
    assert len(wildcard.data) == 3
    types = live.v1.events.list({"types": ["payment_intent.succeeded"]})
    assert [e.data.object["object"] for e in types.data] == ["payment_intent"] * 3
    undelivered = live.v1.events.list({"delivery_success": False, "limit": 100})
    assert len(undelivered.data) == 6  # nothing was delivered in live mode
    assert live.v1.events.list({"delivery_success": True}).data == []
    # Test-mode events stay out of a live key's lists.
    assert not {e.id for e in every.data} & {
        e.id for e in client.v1.events.list({"limit": 100}).auto_paging_iter()
    }


def test_refunds_create_list_retrieve_and_show_on_the_charge(
    client: stripe.StripeClient,
) -> None:
    session = paid_session(client, 301, amount=5000)
    intent = session.payment_intent
    first = client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 1500, "reason": "requested_by_customer"},
        {"idempotency_key": "refund-301-1"},
    )
    assert (first.amount, first.status, first.charge, first.reason) == (
        1500,
        "succeeded",
        intent.latest_charge.id,
        "requested_by_customer",
    )
    replay = client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 1500, "reason": "requested_by_customer"},
        {"idempotency_key": "refund-301-1"},
    )
    assert replay.id == first.id
    rest = client.v1.refunds.create({"charge": intent.latest_charge.id})
    assert rest.amount == 3500
    listed = client.v1.refunds.list({"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    assert client.v1.refunds.retrieve(first.id).to_dict() == first.to_dict()
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    refunded = client.v1.events.list({"type": "charge.refunded", "limit": 100})
    mine = [e for e in refunded.data if e.data.object["id"] == charge.id]
    assert [e.data.object["amount_refunded"] for e in mine] == [5000, 1500]
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge.id})
    assert (again.value.http_status, again.value.code, again.value.param) == (
        400,
        "charge_already_refunded",
        "charge",
    )


def test_refund_refusals_parse_into_stripe_errors(
    client: stripe.StripeClient, state: StripeState
) -> None:
    session = paid_session(client, 302, amount=1000)
    intent_id = session.payment_intent.id
    cases: list[tuple[dict[str, Any], int, str | None, str | None]] = [
        ({"payment_intent": intent_id, "amount": 1001}, 400, "amount_too_large", "amount"),
        ({"charge": "ch_doesnotexist"}, 404, "resource_missing", "charge"),
        ({"payment_intent": "pi_doesnotexist"}, 404, "resource_missing", "payment_intent"),
        ({"amount": 5}, 400, "parameter_missing", "charge"),
        ({"payment_intent": intent_id, "reason": "bored"}, 400, "parameter_invalid", "reason"),
        ({"payment_intent": intent_id, "colour": "red"}, 400, None, "colour"),
    ]
    for params, status, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.refunds.create(params)  # type: ignore[arg-type]
        assert (raised.value.http_status, raised.value.code, raised.value.param) == (
            status,
            code,
            param,
        ), params
    delayed = checkout(client, 303)
    pay(delayed, "pay_delayed")
    processing = str(client.v1.checkout.sessions.retrieve(delayed.id).payment_intent)
    with pytest.raises(stripe.InvalidRequestError) as unsettled:
        client.v1.refunds.create({"payment_intent": processing})
    assert (unsettled.value.http_status, unsettled.value.param) == (400, "payment_intent")
    assert "does not have a successful charge" in str(unsettled.value.user_message)
    state.dispute(session.id)
    with pytest.raises(stripe.InvalidRequestError) as disputed:
        client.v1.refunds.create({"payment_intent": intent_id})
    assert disputed.value.code == "charge_disputed"
    assert client.v1.refunds.list({"payment_intent": intent_id}).data == []


def test_charges_and_payment_intents_list_with_filters_and_cursors(
    client: stripe.StripeClient,
) -> None:
    sessions = [paid_session(client, invoice_id) for invoice_id in (401, 402, 403)]
    intents = [s.payment_intent for s in sessions]
    by_intent = client.v1.charges.list({"payment_intent": intents[1].id})
    assert [c.id for c in by_intent.data] == [intents[1].latest_charge.id]
    newest = client.v1.payment_intents.list({"limit": 3})
    assert [i.id for i in newest.data] == [i.id for i in reversed(intents)]
    after = client.v1.payment_intents.list({"limit": 1, "starting_after": intents[2].id})
    assert [i.id for i in after.data] == [intents[1].id]
    since = client.v1.charges.list({"created": {"gte": intents[0].created}, "limit": 100})
    assert {i.latest_charge.id for i in intents} <= {c.id for c in since.data}
    with pytest.raises(stripe.InvalidRequestError) as cursor:
        client.v1.charges.list({"starting_after": "ch_doesnotexist"})
    assert (cursor.value.http_status, cursor.value.code, cursor.value.param) == (
        404,
        "resource_missing",
        "starting_after",
    )
    with pytest.raises(stripe.InvalidRequestError) as limit:
        client.v1.charges.list({"limit": 101})
    assert (limit.value.http_status, limit.value.param) == (400, "limit")


def test_sessions_list_and_expire(client: stripe.StripeClient) -> None:
    session = checkout(client, 501)
    open_ids = [s.id for s in client.v1.checkout.sessions.list({"status": "open", "limit": 100})]
    assert session.id in open_ids
    expired = client.v1.checkout.sessions.expire(session.id)
    assert (expired.id, expired.status, expired.url) == (session.id, "expired", None)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    listed = client.v1.checkout.sessions.list({"status": "expired", "limit": 100})
    assert session.id in [s.id for s in listed.data]
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.checkout.sessions.expire(session.id)
    assert again.value.http_status == 400
    assert "has a status of `expired`" in str(again.value.user_message)
    events = client.v1.events.list({"type": "checkout.session.expired", "limit": 100})
    assert session.id in [e.data.object["id"] for e in events.data]
    paid = paid_session(client, 502)
    by_intent = client.v1.checkout.sessions.list({"payment_intent": paid.payment_intent.id})
    assert [s.id for s in by_intent.data] == [paid.id]


def test_errors_use_the_librarys_classes(base_url: str, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.AuthenticationError) as unauthorised:
        connect(base_url, "sk_test_NotAKeyThisAccountKnows").v1.events.list()
    assert unauthorised.value.http_status == 401
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_a1doesnotexist")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (
        404,
        "resource_missing",
        "session",
    )
    with pytest.raises(stripe.InvalidRequestError) as no_event:
        client.v1.events.retrieve("evt_doesnotexist")
    assert (no_event.value.http_status, no_event.value.code) == (404, "resource_missing")
    # Routes the simulator does not model answer Stripe's 404, which the library parses.
    with pytest.raises(stripe.InvalidRequestError) as unmodelled:
        client.v1.customers.list()
    assert unmodelled.value.http_status == 404
    assert str(unmodelled.value.user_message).startswith(
        "Unrecognized request URL (GET: /v1/customers)."
    )
    with pytest.raises(stripe.InvalidRequestError) as unknown_filter:
        client.v1.events.list({"object_id": "x"})  # type: ignore[arg-type]
    assert (unknown_filter.value.http_status, unknown_filter.value.param) == (400, "object_id")
