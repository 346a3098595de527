# mypy: allow-untyped-calls
"""The PayPal simulator, driven by PayPal's own Python client (``paypal-server-sdk``).

Every call `billing.gateways.paypal.api.PayPalApi` makes (token, create order with our own order
body and a ``PayPal-Request-Id``, get order, capture, get capture) and the operator's
refund calls go through the official client against the simulator on a real socket; its
errors must come back as the client's own `ErrorException` with PayPal's fields. The client
has no Webhooks API, so the Events API and the postback verification our client also uses
are called with the client's OAuth token over plain HTTP. (The client is untyped, hence the
mypy line above.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from paypalserversdk.configuration import Configuration, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.exceptions.o_auth_provider_exception import OAuthProviderException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from fluxbilling.billing.gateways.paypal import checkout as paypal
from fluxbilling_simulators import _paypal_state
from fluxbilling_simulators.paypal import PayPalState, create_app
from tests.integration.conformance import serving

CLIENT_ID, SECRET = "conformance-client", "conformance-secret"


class SimulatorConfiguration(Configuration):  # type: ignore[misc]
    """The client's configuration with the simulator as its one server.

    The client only knows PayPal's live and sandbox URLs; `get_base_uri` is what every
    request (the token's too) asks for its origin.
    """

    def __init__(self, base_url: str, **options: Any) -> None:
        self.base_url = base_url
        super().__init__(**options)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self.base_url


class Receiver:
    """Our webhook endpoint as the notifier sees it: every delivery's headers and body."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.deliveries.append((dict(request.headers), request.content))
        return httpx.Response(200)


@pytest.fixture(scope="module")
def key() -> Any:
    return _paypal_state.new_key()


@pytest.fixture
def state(key: Any) -> PayPalState:
    return PayPalState(client_id=CLIENT_ID, secret=SECRET, seed=5, key=key)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def url(state: PayPalState, receiver: Receiver) -> Iterator[str]:
    notifier = httpx.AsyncClient(transport=httpx.MockTransport(receiver.handle))
    with serving(create_app(state, notifier_client=notifier)) as base:
        yield base


def sdk(url: str, secret: str = SECRET) -> PaypalServersdkClient:
    credentials = ClientCredentialsAuthCredentials(CLIENT_ID, secret)
    return PaypalServersdkClient(
        config=SimulatorConfiguration(url, client_credentials_auth_credentials=credentials)
    )


def create(client: PaypalServersdkClient, invoice: str = "INV-7", request_id: str = "") -> Any:
    body = paypal.order_request(
        invoice, 1999, "EUR", return_url="https://shop.test/r", cancel_url="https://shop.test/c"
    )
    return client.orders.create_order(
        {
            "body": OrderRequest.from_dictionary(body),
            "paypal_request_id": request_id or f"create-{invoice}",
            "prefer": "return=representation",
        }
    )


def captured(client: PaypalServersdkClient, state: PayPalState, invoice: str = "INV-7") -> Any:
    """An order created, approved by the payer and captured: its capture."""
    order = create(client, invoice).body
    state.approve(order.id)
    done = client.orders.capture_order({"id": order.id, "prefer": "return=representation"})
    return done.body.purchase_units[0].payments.captures[0]


def test_our_order_calls_round_trip(url: str, state: PayPalState) -> None:
    client = sdk(url)
    created = create(client, request_id="invoice-7-attempt-1")
    assert created.status_code == 201
    order = created.body
    assert order.status == "PAYER_ACTION_REQUIRED"
    assert {link.rel: link.method for link in order.links}["payer-action"] == "GET"
    assert order.purchase_units[0].invoice_id == "INV-7"
    replay = create(client, request_id="invoice-7-attempt-1")
    assert (replay.status_code, replay.body.id) == (200, order.id)
    assert len(state.orders) == 1

    state.approve(order.id)
    assert client.orders.get_order({"id": order.id}).body.status == "APPROVED"
    capture = client.orders.capture_order(
        {"id": order.id, "paypal_request_id": "capture-7", "prefer": "return=representation"}
    )
    assert capture.status_code == 201
    assert capture.body.status == "COMPLETED"
    captured_payment = capture.body.purchase_units[0].payments.captures[0]
    assert captured_payment.custom_id == "INV-7"
    again = client.orders.capture_order({"id": order.id, "paypal_request_id": "capture-7"})
    assert again.status_code == 200
    assert len(state.captures) == 1

    read = client.payments.get_captured_payment({"capture_id": captured_payment.id}).body
    assert read.status == "COMPLETED"
    assert read.amount.value == "19.99"
    assert read.supplementary_data.related_ids.order_id == order.id
    assert {link.rel for link in read.links} == {"self", "refund", "up"}
    assert client.orders.get_order({"id": order.id}).body.status == "COMPLETED"


def test_a_minimal_answer_unless_the_full_one_is_preferred(url: str) -> None:
    client = sdk(url)
    body = OrderRequest.from_dictionary(paypal.order_request("INV-8", 500, "USD"))
    minimal = client.orders.create_order({"body": body}).body
    assert minimal.status == "CREATED"
    assert not hasattr(minimal, "purchase_units")
    assert [link.rel for link in minimal.links] == ["self", "approve", "update", "capture"]


def test_a_capture_is_refunded_in_parts_and_each_refund_read(url: str, state: PayPalState) -> None:
    client = sdk(url)
    capture = captured(client, state)
    partial = client.payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "body": RefundRequest(
                amount=Money(currency_code="EUR", value="5.00"), note_to_payer="Goodwill"
            ),
            "paypal_request_id": "refund-1",
            "prefer": "return=representation",
        }
    )
    assert partial.status_code == 201
    assert (partial.body.status, partial.body.amount.value) == ("COMPLETED", "5.00")
    assert partial.body.custom_id == "INV-7"
    up = {link.rel: link.href for link in partial.body.links}["up"]
    assert up.endswith(f"/v2/payments/captures/{capture.id}")
    replay = client.payments.refund_captured_payment(
        {"capture_id": capture.id, "paypal_request_id": "refund-1"}
    )
    assert (replay.status_code, replay.body.id) == (200, partial.body.id)
    capture_now = client.payments.get_captured_payment({"capture_id": capture.id}).body
    assert capture_now.status == "PARTIALLY_REFUNDED"

    rest = client.payments.refund_captured_payment({"capture_id": capture.id}).body
    read = client.payments.get_refund({"refund_id": rest.id}).body
    assert read.amount.value == "14.99"
    total = read.seller_payable_breakdown.total_refunded_amount
    assert (total.currency_code, total.value) == ("EUR", "19.99")
    assert client.payments.get_captured_payment({"capture_id": capture.id}).body.status == (
        "REFUNDED"
    )
    with pytest.raises(ErrorException) as refused:
        client.payments.refund_captured_payment({"capture_id": capture.id})
    assert refused.value.response_code == 422
    assert refused.value.details[0].issue == "CAPTURE_FULLY_REFUNDED"
    assert refused.value.links[0].rel == "information_link"
    assert refused.value.links[0].href.endswith("/payments/v2/#error-CAPTURE_FULLY_REFUNDED")


def test_failures_raise_the_clients_own_error(url: str, state: PayPalState) -> None:
    client = sdk(url)
    with pytest.raises(ErrorException) as missing:
        client.orders.get_order({"id": "5O190127TN364715T"})
    assert (missing.value.response_code, missing.value.name) == (404, "RESOURCE_NOT_FOUND")
    assert missing.value.debug_id
    order = create(client).body
    with pytest.raises(ErrorException) as unapproved:
        client.orders.capture_order({"id": order.id})
    assert unapproved.value.response_code == 422
    assert unapproved.value.details[0].issue == "ORDER_NOT_APPROVED"
    assert unapproved.value.links[0].href.endswith("/orders/v2/#error-ORDER_NOT_APPROVED")
    state.faults.fail_next(1, 503)
    with pytest.raises(ErrorException) as unavailable:
        client.payments.get_refund({"refund_id": "1JU08902781691411"})
    assert (unavailable.value.response_code, unavailable.value.name) == (
        503,
        "SERVICE_UNAVAILABLE",
    )
    with pytest.raises(OAuthProviderException) as bad_secret:
        sdk(url, "not-the-secret").oauth_2.fetch_token()
    assert (bad_secret.value.response_code, bad_secret.value.error) == (401, "invalid_client")


def test_unmodelled_routes_answer_paypals_404_not_plain_text(url: str) -> None:
    client = sdk(url)
    order = create(client).body
    for call in (
        lambda: client.orders.patch_order({"id": order.id, "body": []}),
        lambda: client.payments.get_authorized_payment({"authorization_id": "0VF52814937998046"}),
        lambda: client.transaction_search.search_transactions(
            {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-02T00:00:00Z"}
        ),
    ):
        with pytest.raises(ApiException) as unmodelled:
            call()
        assert unmodelled.value.response_code == 404
        assert unmodelled.value.name == "RESOURCE_NOT_FOUND"  # each API has its own exception class


def test_events_are_listed_read_resent_and_verified(
    url: str, state: PayPalState, receiver: Receiver
) -> None:
    client = sdk(url)
    capture = captured(client, state)
    client.payments.refund_captured_payment({"capture_id": capture.id})
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {client.oauth_2.fetch_token().access_token}"
    events_url = f"{url}/v1/notifications/webhooks-events"

    listed = session.get(events_url).json()
    types = [e["event_type"] for e in listed["events"]]
    assert types == [
        "PAYMENT.CAPTURE.REFUNDED",
        "PAYMENT.CAPTURE.COMPLETED",
        "CHECKOUT.ORDER.APPROVED",
    ]
    assert listed["count"] == 3
    assert listed["links"][0]["rel"] == "self"
    one = session.get(events_url, params={"page_size": 1}).json()
    assert [e["event_type"] for e in one["events"]] == ["PAYMENT.CAPTURE.REFUNDED"]
    completed = session.get(events_url, params={"event_type": "PAYMENT.CAPTURE.COMPLETED"}).json()[
        "events"
    ]
    assert [e["resource"]["id"] for e in completed] == [capture.id]
    by_capture = session.get(events_url, params={"transaction_id": capture.id}).json()
    assert [e["event_type"] for e in by_capture["events"]] == ["PAYMENT.CAPTURE.COMPLETED"]
    later = session.get(events_url, params={"start_time": "2999-01-01T00:00:00Z"}).json()
    assert later["events"] == []
    bad = session.get(events_url, params={"page_size": 0})
    assert (bad.status_code, bad.json()["name"]) == (400, "INVALID_REQUEST")

    event_id = completed[0]["id"]
    self_link = {link["rel"]: link["href"] for link in completed[0]["links"]}["self"]
    assert self_link.endswith(f"/v1/notifications/webhooks-events/{event_id}")
    assert session.get(f"{events_url}/{event_id}").json() == completed[0]
    assert session.get(f"{events_url}/WH-NOTANEVENT").status_code == 404

    sent = session.post(f"{url}/_sim/notifications/deliver").json()
    assert len(sent) == 3
    assert state.outbox == []
    resent = session.post(f"{events_url}/{event_id}/resend", json={})
    assert (resent.status_code, resent.json()["id"]) == (202, event_id)
    assert state.outbox == [event_id]
    session.post(f"{url}/_sim/notifications/deliver")
    headers, body = receiver.deliveries[-1]
    assert json.loads(body)["id"] == event_id

    # The postback our client can use: PayPal checks the transmission it sent.
    check = {
        "auth_algo": headers["paypal-auth-algo"],
        "cert_url": headers["paypal-cert-url"],
        "transmission_id": headers["paypal-transmission-id"],
        "transmission_sig": headers["paypal-transmission-sig"],
        "transmission_time": headers["paypal-transmission-time"],
        "webhook_id": state.webhook_id,
        "webhook_event": json.loads(body),
    }
    verify = f"{url}/v1/notifications/verify-webhook-signature"
    assert session.post(verify, json=check).json() == {"verification_status": "SUCCESS"}
    forged = session.post(verify, json=check | {"webhook_id": "SOMEONEELSE"}).json()
    assert forged == {"verification_status": "FAILURE"}
