"""The PayPal simulator speaks PayPal's API shapes, signs like PayPal and injects faults."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal import checkout as paypal_checkout
from fluxbilling.billing.gateways.paypal import events as paypal_events
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling_simulators import _faults, _paypal_state
from fluxbilling_simulators import paypal as paypal_sim
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.paypal import SIM_CERT_HOST, Notifier, PayPalState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

BASE = "https://api-m.sandbox.paypal.test/"
START = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
HOSTS = {SIM_CERT_HOST}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    """A fake webhook endpoint: records every delivery, answers queued statuses (else 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []

        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

        self.app = Starlette(routes=[Route("/webhooks/paypal", hook, methods=["POST"])])

    @property
    def event_ids(self) -> list[str]:
        return [json.loads(body)["id"] for _, body in self.received]


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _paypal_state.new_key()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(key: rsa.RSAPrivateKey, clock: Clock) -> PayPalState:
    return PayPalState(seed=1, key=key, clock=clock, faults=Faults(timeout_delay=0.01))


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def notifier(state: PayPalState, receiver: Receiver) -> AsyncIterator[Notifier]:
    async with asgi_client(receiver.app, "http://receiver.test") as client:
        yield Notifier(state, client)


@pytest.fixture
async def anon(state: PayPalState) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(state), BASE) as client:
        yield client


@pytest.fixture
async def api(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    token = (await get_token(anon)).json()["access_token"]
    anon.headers["Authorization"] = f"Bearer {token}"
    return anon


def basic(user: str = "sim-client-id", password: str = "sim-secret") -> str:  # noqa: S107
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def get_token(client: httpx.AsyncClient, **kw: Any) -> httpx.Response:
    return await client.post(
        "v1/oauth2/token",
        data=kw.pop("data", {"grant_type": "client_credentials"}),
        headers={"Authorization": kw.pop("authorization", basic())},
    )


ORDER = paypal_checkout.order_request("INV-42", 1999, "EUR", description="VPS S")
FULL = {"Prefer": "return=representation"}


async def create(
    api: httpx.AsyncClient, body: dict[str, Any] = ORDER, **headers: str
) -> dict[str, Any]:
    response = await api.post("v2/checkout/orders", json=body, headers=FULL | headers)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def paid(
    api: httpx.AsyncClient, state: PayPalState, body: dict[str, Any] = ORDER
) -> dict[str, Any]:
    order = await create(api, body)
    state.approve(order["id"])
    response = await api.post(f"v2/checkout/orders/{order['id']}/capture", headers=FULL)
    assert response.status_code == 201, response.text
    captured: dict[str, Any] = response.json()
    return captured


def capture_id(order: dict[str, Any]) -> str:
    return str(order["purchase_units"][0]["payments"]["captures"][0]["id"])


# --- OAuth -----------------------------------------------------------------------------


async def test_token_with_client_credentials(anon: httpx.AsyncClient, state: PayPalState) -> None:
    response = await get_token(anon)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 32400
    assert body["access_token"].startswith("A21AA")
    assert state.token_valid(body["access_token"])


@pytest.mark.parametrize(
    "authorization",
    [basic(password="wrong"), basic(user="other"), "", "Bearer x", "Basic !!!"],
)
async def test_token_refuses_wrong_client_credentials(
    anon: httpx.AsyncClient, authorization: str
) -> None:
    response = await get_token(anon, authorization=authorization)
    assert (response.status_code, response.json()) == (
        401,
        {"error": "invalid_client", "error_description": "Client Authentication failed"},
    )


@pytest.mark.parametrize(
    ("data", "description"),
    [({}, "Grant Type is NULL"), ({"grant_type": "password"}, "unsupported grant_type")],
)
async def test_token_needs_the_client_credentials_grant(
    anon: httpx.AsyncClient, data: dict[str, str], description: str
) -> None:
    response = await get_token(anon, data=data)
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type", "error_description": description}


async def test_api_needs_a_live_bearer_token(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, state: PayPalState, clock: Clock
) -> None:
    assert (await api.get("v2/checkout/orders/NOPE")).status_code == 404
    missing = await anon.get("v2/checkout/orders/NOPE", headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.json()["name"] == "AUTHENTICATION_FAILURE"
    clock.now += timedelta(seconds=32400)
    assert (await api.get("v2/checkout/orders/NOPE")).status_code == 401
    clock.now = START
    state.revoke_tokens()
    assert (await api.get("v2/checkout/orders/NOPE")).status_code == 401


# --- orders ----------------------------------------------------------------------------


async def test_create_order_minimal_and_full(api: httpx.AsyncClient, state: PayPalState) -> None:
    minimal = await api.post("v2/checkout/orders", json=ORDER)
    assert minimal.status_code == 201
    assert set(minimal.json()) == {"id", "status", "links"}
    assert minimal.json()["status"] == "CREATED"
    order = await create(api)
    assert len(order["id"]) == 17
    unit = order["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "EUR", "value": "19.99"}
    assert (unit["invoice_id"], unit["custom_id"], unit["description"]) == (
        "INV-42",
        "INV-42",
        "VPS S",
    )
    rels = {link["rel"]: link for link in order["links"]}
    assert set(rels) == {"self", "approve", "update", "capture"}
    assert rels["approve"]["href"].endswith(f"token={order['id']}")
    assert (await api.get(f"v2/checkout/orders/{order['id']}")).json() == order
    assert set(state.orders) == {minimal.json()["id"], order["id"]}


async def test_wallet_experience_context_needs_payer_action(api: httpx.AsyncClient) -> None:
    body = paypal_checkout.order_request("INV-1", 500, "JPY", return_url="https://shop.test/ok")
    order = await create(api, body)
    assert order["status"] == "PAYER_ACTION_REQUIRED"
    assert "payer-action" in {link["rel"] for link in order["links"]}


async def test_request_id_replays_the_first_order(
    api: httpx.AsyncClient, state: PayPalState, clock: Clock
) -> None:
    rid = {"PayPal-Request-Id": "inv-42-a1"}
    first = await api.post("v2/checkout/orders", json=ORDER, headers=rid)
    again = await api.post("v2/checkout/orders", json=ORDER, headers=rid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(state.orders) == 1
    clock.now += timedelta(hours=6)  # PayPal keeps order request ids for 6 hours
    later = await api.post("v2/checkout/orders", json=ORDER, headers=rid)
    assert later.status_code == 201
    assert len(state.orders) == 2


@pytest.mark.parametrize(
    ("amount", "status", "issue"),
    [
        ({"currency_code": "JPY", "value": "1.5"}, 422, "DECIMALS_NOT_SUPPORTED"),
        ({"currency_code": "EUR", "value": "1.005"}, 422, "DECIMAL_PRECISION"),
        ({"currency_code": "EUR", "value": "0.00"}, 422, "CANNOT_BE_ZERO_OR_NEGATIVE"),
        ({"currency_code": "XXX", "value": "1.00"}, 422, "INVALID_CURRENCY_CODE"),
        ({"currency_code": "EUR", "value": "abc"}, 400, "INVALID_PARAMETER_SYNTAX"),
        ({"currency_code": "EUR", "value": 1}, 400, "INVALID_PARAMETER_SYNTAX"),
        ({"value": "1.00"}, 400, "MISSING_REQUIRED_PARAMETER"),
    ],
)
async def test_order_money_is_validated_like_paypal(
    api: httpx.AsyncClient, amount: dict[str, Any], status: int, issue: str
) -> None:
    body = {"intent": "CAPTURE", "purchase_units": [{"amount": amount}]}
    response = await api.post("v2/checkout/orders", json=body)
    assert response.status_code == status
    assert response.json()["details"][0]["issue"] == issue
    assert response.json()["debug_id"]


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({"purchase_units": []}, "MISSING_REQUIRED_PARAMETER"),
        ({"intent": "AUTHORIZE", "purchase_units": []}, "INVALID_PARAMETER_VALUE"),
        ({"intent": "CAPTURE"}, "MISSING_REQUIRED_PARAMETER"),
        ({"intent": "CAPTURE", "purchase_units": [1]}, "MISSING_REQUIRED_PARAMETER"),
        ([], "MALFORMED_REQUEST_JSON"),
        (
            {**ORDER, "purchase_units": [{**ORDER["purchase_units"][0], "invoice_id": "x" * 128}]},
            "INVALID_STRING_LENGTH",
        ),
        (
            {**ORDER, "purchase_units": [ORDER["purchase_units"][0]] * 2},
            "INVALID_ARRAY_MAX_ITEMS",
        ),
    ],
)
async def test_order_shape_is_validated(api: httpx.AsyncClient, body: Any, issue: str) -> None:
    response = await api.post("v2/checkout/orders", json=body)
    assert response.status_code == 400
    assert response.json()["name"] == "INVALID_REQUEST"
    assert response.json()["details"][0]["issue"] == issue


async def test_malformed_json_is_a_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "v2/checkout/orders", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["issue"] == "MALFORMED_REQUEST_JSON"


async def test_unknown_order_is_resource_not_found(api: httpx.AsyncClient) -> None:
    response = await api.get("v2/checkout/orders/NOPE")
    assert response.status_code == 404
    assert response.json()["name"] == "RESOURCE_NOT_FOUND"
    assert response.json()["details"][0]["issue"] == "INVALID_RESOURCE_ID"


# --- capture ---------------------------------------------------------------------------


async def test_capture_needs_approval(api: httpx.AsyncClient, state: PayPalState) -> None:
    order = await create(api)
    refused = await api.post(f"v2/checkout/orders/{order['id']}/capture")
    assert refused.status_code == 422
    assert refused.json()["details"][0]["issue"] == "ORDER_NOT_APPROVED"
    assert state.captures == {}


async def test_approve_then_capture(api: httpx.AsyncClient, state: PayPalState) -> None:
    order = await create(api)
    approved_event = state.approve(order["id"])
    assert (await api.get(f"v2/checkout/orders/{order['id']}")).json()["status"] == "APPROVED"
    response = await api.post(f"v2/checkout/orders/{order['id']}/capture", headers=FULL)
    assert response.status_code == 201
    done = response.json()
    assert done["status"] == "COMPLETED"
    assert done["payer"]["email_address"] == "buyer@sandbox.paypal.test"
    cid = capture_id(done)
    capture = (await api.get(f"v2/payments/captures/{cid}")).json()
    assert capture["status"] == "COMPLETED"
    assert capture["amount"] == {"currency_code": "EUR", "value": "19.99"}
    assert capture["supplementary_data"] == {"related_ids": {"order_id": order["id"]}}
    assert (capture["invoice_id"], capture["custom_id"]) == ("INV-42", "INV-42")
    assert capture["seller_receivable_breakdown"]["net_amount"] == {
        "currency_code": "EUR",
        "value": "19.29",
    }
    assert [n.event_type for n in state.notifications.values()] == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.COMPLETED",
    ]
    assert state.outbox[0] == approved_event


async def test_second_capture_is_refused_but_a_replay_answers_200(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    order = await create(api)
    state.approve(order["id"])
    url = f"v2/checkout/orders/{order['id']}/capture"
    first = await api.post(url, headers={"PayPal-Request-Id": "cap-1"})
    replay = await api.post(url, headers={"PayPal-Request-Id": "cap-1"})
    other = await api.post(url, headers={"PayPal-Request-Id": "cap-2"})
    assert (first.status_code, replay.status_code, other.status_code) == (201, 200, 422)
    assert first.json()["id"] == replay.json()["id"]
    assert other.json()["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED"
    assert len(state.captures) == 1


async def test_a_second_order_with_the_same_invoice_id_cannot_be_captured(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    await paid(api, state)
    second = await create(api)
    state.approve(second["id"])
    response = await api.post(f"v2/checkout/orders/{second['id']}/capture")
    assert response.status_code == 422
    assert response.json()["details"][0]["issue"] == "DUPLICATE_INVOICE_ID"


async def test_declined_instrument_leaves_the_order_approved(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    order = await create(api)
    state.approve(order["id"])
    state.capture_outcomes.append("INSTRUMENT_DECLINED")
    response = await api.post(f"v2/checkout/orders/{order['id']}/capture")
    assert response.json()["details"][0]["issue"] == "INSTRUMENT_DECLINED"
    assert state.orders[order["id"]]["status"] == "APPROVED"
    assert (await api.post(f"v2/checkout/orders/{order['id']}/capture")).status_code == 201


async def test_pending_capture_then_completed_or_denied(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.capture_outcomes.extend(["PENDING", "PENDING"])
    first = capture_id(await paid(api, state))
    second = capture_id(await paid(api, state, paypal_checkout.order_request("INV-43", 500, "USD")))
    pending = state.captures[first]
    assert (pending["status"], pending["status_details"]) == (
        "PENDING",
        {"reason": "PENDING_REVIEW"},
    )
    state.complete_capture(first)
    state.deny_capture(second)
    assert state.captures[first]["status"] == "COMPLETED"
    assert state.captures[second]["status"] == "DECLINED"
    order = state.orders[state.captures[first]["supplementary_data"]["related_ids"]["order_id"]]
    assert order["purchase_units"][0]["payments"]["captures"][0]["status"] == "COMPLETED"
    types = [
        n.event_type for n in state.notifications.values() if n.event_type.startswith("PAYMENT")
    ]
    assert types == [
        "PAYMENT.CAPTURE.PENDING",
        "PAYMENT.CAPTURE.PENDING",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.DENIED",
    ]
    with pytest.raises(_paypal_state.PayPalProblem):
        state.complete_capture(first)


# --- refunds ---------------------------------------------------------------------------


async def test_partial_then_full_refund(api: httpx.AsyncClient, state: PayPalState) -> None:
    cid = capture_id(await paid(api, state))
    url = f"v2/payments/captures/{cid}/refund"
    part = await api.post(
        url, json={"amount": {"currency_code": "EUR", "value": "5.00"}}, headers=FULL
    )
    assert part.status_code == 201
    assert part.json()["amount"] == {"currency_code": "EUR", "value": "5.00"}
    assert part.json()["custom_id"] == "INV-42"
    assert state.captures[cid]["status"] == "PARTIALLY_REFUNDED"
    too_much = await api.post(url, json={"amount": {"currency_code": "EUR", "value": "15.00"}})
    assert too_much.json()["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED"
    wrong_currency = await api.post(url, json={"amount": {"currency_code": "USD", "value": "1.00"}})
    assert wrong_currency.json()["details"][0]["issue"] == "REFUND_CAPTURE_CURRENCY_MISMATCH"
    rest = await api.post(url, headers=FULL)  # no body: the rest
    assert rest.json()["amount"]["value"] == "14.99"
    assert rest.json()["seller_payable_breakdown"]["total_refunded_amount"]["value"] == "19.99"
    assert state.captures[cid]["status"] == "REFUNDED"
    again = await api.post(url)
    assert again.json()["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED"
    fetched = await api.get(f"v2/payments/refunds/{rest.json()['id']}")
    assert fetched.json() == rest.json()
    assert (await api.get("v2/payments/refunds/NOPE")).status_code == 404


async def test_refund_request_id_replays(api: httpx.AsyncClient, state: PayPalState) -> None:
    cid = capture_id(await paid(api, state))
    url = f"v2/payments/captures/{cid}/refund"
    first = await api.post(url, headers={"PayPal-Request-Id": "r-1"})
    again = await api.post(url, headers={"PayPal-Request-Id": "r-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert set(first.json()) == {"id", "status", "links"}
    assert first.json() == again.json()
    assert len(state.refunds) == 1


async def test_pending_capture_cannot_be_refunded(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.capture_outcomes.append("PENDING")
    cid = capture_id(await paid(api, state))
    response = await api.post(f"v2/payments/captures/{cid}/refund")
    assert response.json()["details"][0]["issue"] == "REFUND_NOT_ALLOWED"
    assert (await api.post("v2/payments/captures/NOPE/refund")).status_code == 404


async def test_money_events_classify_to_one_capture(
    api: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    cid = capture_id(await paid(api, state))
    await api.post(
        f"v2/payments/captures/{cid}/refund",
        json={"amount": {"currency_code": "EUR", "value": "1.00"}},
    )
    state.reverse_capture(cid)
    dispute_event = state.open_dispute(cid)
    await notifier.deliver_all()
    facts = [
        paypal_events.classify(paypal_events.parse_event(body), livemode=False)
        for _, body in receiver.received
    ]
    summary = [(f.kind, f.gateway_payment_id, f.alias_id, f.amount_minor) for f in facts]
    order_id = next(iter(state.orders))
    assert summary == [
        ("pending", order_id, "", 1999),
        ("paid", order_id, cid, 1999),  # refunds and disputes below name its alias
        ("refund", cid, "", 100),
        ("dispute", cid, "", 1899),
        ("dispute", cid, "", 1999),
    ]
    assert {f.invoice_ref for f in facts} == {"INV-42"}
    assert (
        facts[-1].gateway_object_id
        == json.loads(state.notifications[dispute_event].body)["resource"]["dispute_id"]
    )
    assert state.captures[cid]["status"] == "REFUNDED"
    # The order shows the payment, the refund and the reversal as their webhooks did.
    assert paypal_events.facts_from_order(state.order(order_id), livemode=False) == facts[1:4]


async def test_the_order_lists_its_refunds_and_its_capture_shows_them(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    done = await paid(api, state)
    assert "refunds" not in done["purchase_units"][0]["payments"]
    cid, url = capture_id(done), f"v2/checkout/orders/{done['id']}"
    part = await api.post(
        f"v2/payments/captures/{cid}/refund",
        json={"amount": {"currency_code": "EUR", "value": "5.00"}},
        headers=FULL,
    )
    payments = (await api.get(url)).json()["purchase_units"][0]["payments"]
    assert payments["captures"][0]["status"] == "PARTIALLY_REFUNDED"
    assert payments["refunds"] == [part.json()]
    state.reverse_capture(cid)
    payments = (await api.get(url)).json()["purchase_units"][0]["payments"]
    assert payments["captures"][0]["status"] == "REFUNDED"
    assert [r["id"] for r in payments["refunds"]] == list(state.refunds)
    assert payments["refunds"][1]["amount"] == {"currency_code": "EUR", "value": "14.99"}
    assert payments["refunds"][1]["note_to_payer"] == "Payment reversed"


async def test_webhook_facts_and_fetched_facts_of_a_refund_are_equal(
    api: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    done = await paid(api, state)
    cid = capture_id(done)
    await api.post(
        f"v2/payments/captures/{cid}/refund",
        json={"amount": {"currency_code": "EUR", "value": "1.00"}},
    )
    await api.post(f"v2/payments/captures/{cid}/refund")  # the rest
    await notifier.deliver_all()
    webhook = [
        paypal_events.classify(paypal_events.parse_event(body), livemode=False)
        for _, body in receiver.received
    ]
    order = (await api.get(f"v2/checkout/orders/{done['id']}")).json()
    fetched = paypal_events.facts_from_order(order, livemode=False)
    assert fetched == webhook[1:]  # the capture's fact, then both refunds; not the approval
    assert [(f.kind, f.amount_minor) for f in fetched] == [
        ("paid", 1999),
        ("refund", 100),
        ("refund", 1899),
    ]


# --- certificate and signatures --------------------------------------------------------


async def test_certificate_is_served_and_deliveries_verify_with_paypal_verify(
    api: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    order = await paid(api, state)
    await notifier.deliver_all()
    assert state.cert_url.startswith(f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-")
    cert = await api.get(state.cert_url, headers={"Authorization": ""})  # no auth needed
    assert cert.status_code == 200
    assert cert.content.startswith(b"-----BEGIN CERTIFICATE-----")
    for headers, body in receiver.received:
        assert headers["paypal-cert-url"] == state.cert_url
        paypal_verify.verify(headers, body, state.webhook_id, cert.content, START, cert_hosts=HOSTS)
    headers, body = receiver.received[-1]
    fact = paypal_events.classify(paypal_events.parse_event(body), livemode=False)
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id) == (
        "paid",
        order["id"],
        capture_id(order),
    )
    tampered = body.replace(b"19.99", b"19.98")
    for bad_body, webhook_id in ((tampered, state.webhook_id), (body, "OTHERWEBHOOK")):
        with pytest.raises(errors.InvalidWebhook, match="signature does not match"):
            paypal_verify.verify(
                headers, bad_body, webhook_id, cert.content, START, cert_hosts=HOSTS
            )
    with pytest.raises(errors.InvalidWebhook, match="not a PayPal host"):
        paypal_verify.verify(headers, body, state.webhook_id, cert.content, START)


async def test_unknown_certificate_is_404(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("v1/notifications/certs/CERT-nope")).status_code == 404


async def test_rotated_certificates_stay_served(
    anon: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    old_url = state.cert_url
    new_url = state.rotate_cert(
        not_after=START - timedelta(seconds=1), not_before=START - timedelta(days=2)
    )
    assert new_url != old_url
    assert (await anon.get(old_url)).status_code == 200
    state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    await notifier.deliver()
    headers, body = receiver.received[0]
    assert headers["paypal-cert-url"] == new_url
    pem = (await anon.get(new_url)).content
    with pytest.raises(errors.InvalidWebhook, match="certificate has expired"):
        paypal_verify.verify(headers, body, state.webhook_id, pem, START, cert_hosts=HOSTS)


async def test_signing_is_over_the_exact_body(state: PayPalState) -> None:
    headers = state.sign(b"{}", "t-1", "2026-11-26T07:00:00Z")
    pem = state.cert_pem()
    assert pem is not None
    paypal_verify.verify(headers, b"{}", state.webhook_id, pem, START, cert_hosts=HOSTS)
    foreign = state.sign(b"{}", "t-1", "2026-11-26T07:00:00Z", webhook_id="OTHER")
    with pytest.raises(errors.InvalidWebhook):
        paypal_verify.verify(foreign, b"{}", state.webhook_id, pem, START, cert_hosts=HOSTS)


# --- notifier --------------------------------------------------------------------------


async def test_deliver_redeliver_reorder_drop(
    api: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    order = await create(api)
    approved = state.approve(order["id"])
    await api.post(f"v2/checkout/orders/{order['id']}/capture")
    completed = state.outbox[-1]
    dispute = state.open_dispute(next(iter(state.captures)))
    assert notifier.pending == [approved, completed, dispute]

    notifier.reorder([completed])
    assert notifier.pending == [completed, approved, dispute]
    notifier.drop(dispute)
    sent = await notifier.deliver_all()
    assert receiver.event_ids == [completed, approved]
    assert [t.status for t in sent] == [200, 200]
    assert notifier.pending == []
    assert state.notifications[dispute].state == "dropped"

    again = await notifier.redeliver(completed)
    (h1, b1), (h2, b2) = receiver.received[0], receiver.received[-1]
    assert b1 == b2
    assert h1["paypal-transmission-id"] != h2["paypal-transmission-id"] == again.transmission_id
    assert state.notifications[completed].attempts == 2
    with pytest.raises(errors.Conflict):
        await notifier.deliver(completed)
    with pytest.raises(errors.NotFound):
        await notifier.deliver()
    with pytest.raises(errors.NotFound):
        await notifier.redeliver("WH-NOPE")
    with pytest.raises(errors.Conflict):
        notifier.reorder([completed])
    with pytest.raises(errors.Conflict):
        notifier.drop(completed)


async def test_failed_deliveries_stay_pending_until_the_attempt_limit(
    state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    state.max_attempts = 3
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    receiver.statuses = [500, 404]
    assert (await notifier.deliver()).status == 500
    assert (await notifier.deliver()).status == 404
    assert notifier.pending == [event_id]
    assert (await notifier.deliver()).status == 200
    assert state.notifications[event_id].state == "delivered"

    doomed = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "Y"}, "test")
    receiver.statuses = [503, 503, 503]
    for _ in range(3):
        await notifier.deliver(doomed)
    assert state.notifications[doomed].state == "failed"
    assert notifier.pending == []
    transmission_ids = [t.transmission_id for t in state.transmissions]
    assert len(set(transmission_ids)) == len(transmission_ids) == 6


async def test_transport_errors_are_recorded(state: PayPalState) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
        sent = await Notifier(state, client, "http://down.test/hook").deliver()
    assert (sent.status, sent.error) == (None, "ConnectError")
    assert state.notifications[event_id].state == "pending"


# --- postback --------------------------------------------------------------------------


def postback_body(headers: dict[str, str], body: bytes, webhook_id: str) -> dict[str, Any]:
    return {
        "auth_algo": headers["paypal-auth-algo"],
        "cert_url": headers["paypal-cert-url"],
        "transmission_id": headers["paypal-transmission-id"],
        "transmission_sig": headers["paypal-transmission-sig"],
        "transmission_time": headers["paypal-transmission-time"],
        "webhook_id": webhook_id,
        "webhook_event": json.loads(body),
    }


async def test_verify_webhook_signature_postback(
    api: httpx.AsyncClient, state: PayPalState, notifier: Notifier, receiver: Receiver
) -> None:
    state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X", "note": "caf\u00e9"}, "test")
    await notifier.deliver()
    headers, body = receiver.received[0]
    url = "v1/notifications/verify-webhook-signature"

    async def status(payload: dict[str, Any]) -> str:
        response = await api.post(url, json=payload)
        assert response.status_code == 200
        return str(response.json()["verification_status"])

    good = postback_body(headers, body, state.webhook_id)
    assert await status(good) == "SUCCESS"
    tampered = good | {"webhook_event": {**good["webhook_event"], "summary": "x"}}
    forged_sig = base64.b64encode(b"x" * 256).decode()
    for change in (
        {"webhook_id": "OTHERWEBHOOK"},
        {"transmission_id": "unknown"},
        {"transmission_time": "2026-11-26T07:00:00+00:00"},
        {"transmission_sig": forged_sig},
        {"transmission_sig": "not base64!"},
        {"auth_algo": "SHA1withRSA"},
        {"cert_url": f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-unknown"},
        {"cert_url": "https://evil.test/v1/notifications/certs/" + state.cert_id},
        tampered,
    ):
        assert await status(good | change) == "FAILURE", change
    missing = await api.post(url, json={k: v for k, v in good.items() if k != "webhook_id"})
    assert missing.status_code == 400
    assert missing.json()["name"] == "VALIDATION_ERROR"
    assert missing.json()["details"][0]["description"] == "webhook_id is required"


# --- faults and introspection ----------------------------------------------------------


async def test_forced_faults_answer_in_paypals_shape(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.faults.fail_next(1, 503)
    state.faults.fail_next(1, 429)
    first, second = await api.get("v2/checkout/orders/X"), await api.get("v2/checkout/orders/X")
    assert (first.status_code, first.json()["name"]) == (503, "SERVICE_UNAVAILABLE")
    assert (second.status_code, second.json()["name"]) == (429, "RATE_LIMIT_REACHED")
    state.faults.fail_next(1, 418)
    odd = await api.get("v2/checkout/orders/X")
    assert (odd.status_code, odd.json()["name"]) == (418, "INTERNAL_SERVER_ERROR")


async def test_timeout_fault_still_does_the_work(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.faults.fail_next(1, "timeout")
    response = await api.post("v2/checkout/orders", json=ORDER)
    assert response.status_code == 201
    assert len(state.orders) == 1


async def test_exists_fault_refuses_a_capture_without_capturing(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    order = await create(api)
    state.approve(order["id"])
    state.faults.exists_next()
    response = await api.post(f"v2/checkout/orders/{order['id']}/capture")
    assert response.json()["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED"
    assert state.captures == {}
    assert (await api.post(f"v2/checkout/orders/{order['id']}/capture")).status_code == 201


async def test_crash_after_create_then_replay_finds_the_order(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.faults.crash_next_create(3)
    rid = {"PayPal-Request-Id": "inv-42-a1"}
    crashed = await api.post("v2/checkout/orders", json=ORDER, headers=rid)
    assert crashed.status_code == 503
    replay = await api.post("v2/checkout/orders", json=ORDER, headers=rid)
    assert replay.status_code == 200
    order_id = replay.json()["id"]
    state.approve(order_id)
    capture_headers = {"PayPal-Request-Id": "cap-1"}
    assert (
        await api.post(f"v2/checkout/orders/{order_id}/capture", headers=capture_headers)
    ).status_code == 503
    assert (
        await api.post(f"v2/checkout/orders/{order_id}/capture", headers=capture_headers)
    ).status_code == 200
    cid = next(iter(state.captures))
    refund_headers = {"PayPal-Request-Id": "ref-1"}
    assert (
        await api.post(f"v2/payments/captures/{cid}/refund", headers=refund_headers)
    ).status_code == 503
    assert (
        await api.post(f"v2/payments/captures/{cid}/refund", headers=refund_headers)
    ).status_code == 200
    assert (len(state.orders), len(state.captures), len(state.refunds)) == (1, 1, 1)


async def test_state_dump_and_sim_routes(
    anon: httpx.AsyncClient, api: httpx.AsyncClient, state: PayPalState, receiver: Receiver
) -> None:
    order = await create(api)
    approve = await anon.post(f"_sim/orders/{order['id']}/approve")
    assert approve.status_code == 200
    assert state.orders[order["id"]]["status"] == "APPROVED"
    assert (await anon.post(f"_sim/orders/{order['id']}/approve")).status_code == 422
    assert (await anon.post("_sim/orders/NOPE/approve")).status_code == 404
    dumped = (await anon.get("_sim/state")).json()
    assert dumped == json.loads(json.dumps(state.dump()))
    assert dumped["notifications"] == [
        {
            "event_id": approve.json()["event_id"],
            "event_type": "CHECKOUT.ORDER.APPROVED",
            "state": "pending",
            "attempts": 0,
        }
    ]
    assert dumped["requests"] == state.requests == 2  # token + create; /_sim is not counted
    assert (await anon.get("v9/nothing")).status_code == 404
    assert (await anon.get("v9/nothing")).json()["name"] == "RESOURCE_NOT_FOUND"


async def test_sim_deliver_route_uses_the_injected_client(
    state: PayPalState, receiver: Receiver
) -> None:
    async with asgi_client(receiver.app, "http://receiver.test") as to_receiver:
        app = create_app(state, notifier_client=to_receiver)
        async with asgi_client(app, BASE) as client:
            event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
            response = await client.post("_sim/notifications/deliver")
    assert response.json() == [{"event_id": event_id, "status": 200, "error": None}]
    assert receiver.event_ids == [event_id]


async def test_reverse_approval_voids_the_order(api: httpx.AsyncClient, state: PayPalState) -> None:
    order = await create(api)
    state.approve(order["id"])
    event_id = state.reverse_approval(order["id"])
    assert state.orders[order["id"]]["status"] == "VOIDED"
    event = paypal_events.parse_event(state.notifications[event_id].body)
    fact = paypal_events.classify(event, livemode=False)
    assert (fact.kind, fact.gateway_payment_id, fact.invoice_ref) == (
        "failed",
        order["id"],
        "INV-42",
    )


async def test_events_look_like_paypals(state: PayPalState, clock: Clock) -> None:
    clock.now = START + timedelta(microseconds=123456)
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "Payment completed")
    event = json.loads(state.notifications[event_id].body)
    assert event_id.startswith("WH-") and len(event_id) == 3 + 17 + 1 + 17
    assert event["create_time"] == "2026-11-26T07:00:00.123Z"
    assert (event["event_version"], event["resource_version"]) == ("1.0", "2.0")
    assert [link["rel"] for link in event["links"]] == ["self", "resend"]
    assert b" " not in state.notifications[event_id].body.replace(b"Payment completed", b"")


async def test_default_clock_is_aware_utc(key: rsa.RSAPrivateKey) -> None:
    state = PayPalState(key=key)
    assert state.clock().tzinfo is UTC
    assert state.certs[state.cert_id].not_valid_after_utc > state.clock()


async def test_main_wires_options_into_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[Any, Any]] = []
    monkeypatch.setattr(_faults, "serve", lambda app, args: served.append((app, args)))
    paypal_sim.main(
        ["--port", "9998", "--client-id", "cid", "--secret", "sec", "--webhook-id", "WH1"]
    )
    [(app, args)] = served
    assert args.port == 9998
    async with asgi_client(app, BASE) as client:
        assert (await get_token(client)).status_code == 401
        ok = await get_token(client, authorization=basic("cid", "sec"))
        assert ok.status_code == 200
        dumped = (await client.get("_sim/state")).json()
    assert dumped["webhook"]["id"] == "WH1"


async def test_event_list_windows_need_zoned_times(
    api: httpx.AsyncClient, state: PayPalState
) -> None:
    state.emit("CHECKOUT.ORDER.APPROVED", "checkout-order", {"id": "ORDER1"}, "approved")
    url = "v1/notifications/webhooks-events"
    listed = (await api.get(url)).json()
    assert listed["links"] == [{"href": f"{BASE}{url}", "rel": "self", "method": "GET"}]
    inside = {"start_time": "2026-11-26T06:00:00Z", "end_time": "2026-11-26T08:00:00+00:00"}
    assert (await api.get(url, params=inside)).json()["count"] == 1
    for bad in ("yesterday", "2026-11-26T06:00:00"):
        refused = await api.get(url, params={"end_time": bad})
        assert refused.status_code == 400
        assert refused.json()["details"][0]["issue"] == "INVALID_PARAMETER_SYNTAX"
        assert refused.json()["links"][0]["href"].endswith(
            "/webhooks/v1/#error-INVALID_PARAMETER_SYNTAX"
        )
