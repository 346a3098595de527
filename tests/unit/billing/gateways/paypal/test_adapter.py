"""The PayPal gateway adapter against the PayPal simulator in-process (no network, no database)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fluxbilling import errors
from fluxbilling.billing.gateway import Attempt, CheckoutRequest, Gateway, Verified
from fluxbilling.billing.gateways.paypal import api as paypal_api
from fluxbilling.billing.gateways.paypal.adapter import PayPalGateway, Verification, connect
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling_simulators import _paypal_state
from fluxbilling_simulators.paypal import SIM_CERT_HOST, Notifier, PayPalState, create_app

pytestmark = pytest.mark.anyio

BASE = _paypal_state.SIM_API_BASE + "/"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
CLIENT_ID = "sim-client-id"
SECRET = "sim-secret-0123456789"


class Attempts:
    """The `AttemptLookup` the endpoint passes: our orders by id, with the lookups recorded."""

    def __init__(self, *order_ids: str) -> None:
        self.ours = {order_id: Attempt(7, "paypal", order_id) for order_id in order_ids}
        self.asked: list[str] = []

    async def __call__(self, gateway_ref: str) -> Attempt | None:
        self.asked.append(gateway_ref)
        return self.ours.get(gateway_ref)


class RecordingCerts(paypal_api.CertCache):
    """A certificate cache that records every URL it is asked for."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, allowed_hosts={SIM_CERT_HOST})
        self.asked: list[str] = []

    async def get(self, url: str) -> bytes:
        self.asked.append(url)
        return await super().get(url)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _paypal_state.new_key()


@pytest.fixture
def state(key: rsa.RSAPrivateKey) -> PayPalState:
    return PayPalState(secret=SECRET, seed=5, key=key, clock=lambda: NOW)


@pytest.fixture
def transport(state: PayPalState) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(state))


def sim_gateway(
    state: PayPalState,
    transport: httpx.AsyncBaseTransport,
    *,
    webhook_id: str | None = None,
    extra_cert_hosts: Collection[str] = (SIM_CERT_HOST,),
    verification: Verification = "self",
) -> PayPalGateway:
    """A gateway wired like production, to the simulator (its test cert host allowed)."""
    return connect(
        CLIENT_ID,
        SECRET,
        webhook_id=state.webhook_id if webhook_id is None else webhook_id,
        livemode=False,
        base_url=BASE,
        extra_cert_hosts=extra_cert_hosts,
        transport=transport,
        verification=verification,
    )


@pytest.fixture
async def gateway(
    state: PayPalState, transport: httpx.ASGITransport
) -> AsyncIterator[PayPalGateway]:
    gateway = sim_gateway(state, transport)
    yield gateway
    await gateway.aclose()


def checkout_request(invoice_id: int = 7, attempt: int = 1) -> CheckoutRequest:
    return CheckoutRequest(
        invoice_id=invoice_id,
        attempt=attempt,
        amount_minor=1999,
        currency="EUR",
        description="VPS S, December",
        success_url="https://shop.test/pay/7/done",
        cancel_url="https://shop.test/pay/7/cancel",
        webhook_url="https://shop.test/webhooks/paypal",
    )


async def deliver(state: PayPalState, event_id: str) -> tuple[dict[str, str], bytes]:
    """What our endpoint receives when the simulator delivers `event_id` (headers, body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    def shop(request: httpx.Request) -> httpx.Response:
        received.append((dict(request.headers), request.content))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(shop)) as client:
        await Notifier(state, client, "https://shop.test/webhooks/paypal").redeliver(event_id)
    return received[0]


async def verify(
    gateway: PayPalGateway, delivery: tuple[dict[str, str], bytes], attempts: Attempts
) -> Verified:
    headers, body = delivery
    return await gateway.verify(body, headers, now=NOW.timestamp(), attempts=attempts)


async def approved_order(gateway: PayPalGateway, state: PayPalState) -> tuple[str, str]:
    """An order our checkout created and the payer approved: (order id, APPROVED event id)."""
    checkout = await gateway.create_checkout(checkout_request())
    return checkout.gateway_ref, state.approve(checkout.gateway_ref)


def capture_of(state: PayPalState, order_id: str) -> list[str]:
    return [
        capture_id
        for capture_id, capture in state.captures.items()
        if capture["supplementary_data"]["related_ids"]["order_id"] == order_id
    ]


async def test_it_is_a_gateway(gateway: PayPalGateway) -> None:
    adapter: Gateway = gateway
    assert (adapter.name, adapter.livemode) == ("paypal", False)


# --- checkout -------------------------------------------------------------------------


async def test_checkout_creates_an_order_and_returns_the_approve_url(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    checkout = await gateway.create_checkout(checkout_request())
    order = state.orders[checkout.gateway_ref]
    unit = order["purchase_units"][0]
    assert (unit["invoice_id"], unit["custom_id"], unit["amount"]) == (
        "7",
        "7",
        {"currency_code": "EUR", "value": "19.99"},
    )
    assert unit["description"] == "VPS S, December"
    payer_links = [link["href"] for link in order["links"] if link["rel"] == "payer-action"]
    assert checkout.redirect_url == payer_links[0]
    assert checkout.redirect_url.endswith(f"token={checkout.gateway_ref}")
    assert checkout.callback_token_hash is None


async def test_the_same_attempt_retried_gets_the_same_order(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    first = await gateway.create_checkout(checkout_request(attempt=1))
    state.faults.crash_next_create()  # the order is created, the answer is lost
    with pytest.raises(errors.TransientUpstreamError):
        await gateway.create_checkout(checkout_request(attempt=2))
    again = await gateway.create_checkout(checkout_request(attempt=2))
    assert await gateway.create_checkout(checkout_request(attempt=1)) == first
    assert again != first
    assert sorted(state.orders) == sorted({first.gateway_ref, again.gateway_ref})


def mock_api(answer: httpx.Response) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 100})
        return answer

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("order", "missing"),
    [
        ({"status": "CREATED", "links": [{"rel": "approve", "href": "https://x.test/a"}]}, "id"),
        ({"id": "O-1", "links": [{"rel": "self", "href": "https://x.test/s"}]}, "link"),
        ({"id": "O-1"}, "link"),
        ({"id": "", "links": [{"rel": "approve", "href": ""}]}, "id and no a payer-action"),
    ],
)
async def test_an_order_answer_without_id_or_link_is_permanent(
    order: dict[str, object], missing: str
) -> None:
    gateway = connect(
        CLIENT_ID,
        SECRET,
        webhook_id="W",
        livemode=False,
        transport=mock_api(httpx.Response(201, json=order)),
    )
    with pytest.raises(errors.PermanentUpstreamError, match=f"create order: .*no .*{missing}"):
        await gateway.create_checkout(checkout_request())
    await gateway.aclose()


# --- self verification ----------------------------------------------------------------


async def test_a_signed_capture_completed_delivery_is_a_paid_fact_for_the_order(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, _ = await approved_order(gateway, state)
    state.capture_order(order_id)  # captured by someone else: only the webhook tells us
    [capture_id] = capture_of(state, order_id)
    event_id = state.outbox[-1]
    attempts = Attempts(order_id)
    verified = await verify(gateway, await deliver(state, event_id), attempts)
    assert (verified.event_id, verified.event_type, verified.resource_id) == (
        event_id,
        "PAYMENT.CAPTURE.COMPLETED",
        order_id,
    )
    [fact] = verified.facts
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id, fact.gateway_object_id) == (
        "paid",
        order_id,
        capture_id,
        capture_id,
    )
    assert (fact.invoice_ref, fact.amount_minor, fact.currency, fact.livemode) == (
        "7",
        1999,
        "EUR",
        False,
    )
    assert attempts.asked == []  # only an approval makes us look


async def test_an_approved_order_of_ours_is_captured_and_paid_in_the_same_delivery(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, event_id = await approved_order(gateway, state)
    delivery = await deliver(state, event_id)
    attempts = Attempts(order_id)
    verified = await verify(gateway, delivery, attempts)
    assert attempts.asked == [order_id]
    assert state.orders[order_id]["status"] == "COMPLETED"
    [capture_id] = capture_of(state, order_id)
    assert state.captures[capture_id]["status"] == "COMPLETED"
    approved, paid = verified.facts
    assert (approved.kind, approved.gateway_payment_id) == ("pending", order_id)
    assert (paid.kind, paid.gateway_payment_id, paid.alias_id, paid.invoice_ref) == (
        "paid",
        order_id,
        capture_id,
        "7",
    )
    assert (verified.event_type, verified.resource_id) == ("CHECKOUT.ORDER.APPROVED", order_id)
    # The same delivery again (PayPal retries): the capture is replayed, not repeated.
    assert await verify(gateway, delivery, attempts) == verified
    assert capture_of(state, order_id) == [capture_id]


async def test_an_approved_order_captured_earlier_gives_its_current_fact(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, event_id = await approved_order(gateway, state)
    state.capture_order(order_id)  # not with our request id: PayPal answers 422
    [capture_id] = capture_of(state, order_id)
    verified = await verify(gateway, await deliver(state, event_id), Attempts(order_id))
    assert [(f.kind, f.alias_id) for f in verified.facts] == [("pending", ""), ("paid", capture_id)]
    assert capture_of(state, order_id) == [capture_id]


async def test_an_approved_order_that_is_not_ours_is_not_captured(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, event_id = await approved_order(gateway, state)
    attempts = Attempts()
    verified = await verify(gateway, await deliver(state, event_id), attempts)
    assert attempts.asked == [order_id]
    assert [f.kind for f in verified.facts] == ["pending"]
    assert state.orders[order_id]["status"] == "APPROVED"
    assert state.captures == {}


async def test_a_failing_capture_propagates_and_the_retry_captures(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, event_id = await approved_order(gateway, state)
    delivery = await deliver(state, event_id)
    await gateway.certs.get(state.cert_url)  # warm: the next request is the capture
    state.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await verify(gateway, delivery, Attempts(order_id))
    assert info.value.operation == "capture order"
    assert state.orders[order_id]["status"] == "APPROVED"
    verified = await verify(gateway, delivery, Attempts(order_id))
    assert [f.kind for f in verified.facts] == ["pending", "paid"]


async def test_a_refused_capture_is_permanent(gateway: PayPalGateway, state: PayPalState) -> None:
    order_id, event_id = await approved_order(gateway, state)
    state.capture_outcomes.append("INSTRUMENT_DECLINED")
    with pytest.raises(errors.PermanentUpstreamError, match="INSTRUMENT_DECLINED"):
        await verify(gateway, await deliver(state, event_id), Attempts(order_id))
    assert state.orders[order_id]["status"] == "APPROVED"


async def test_a_certificate_fetch_failure_is_an_upstream_error(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    delivery = await deliver(state, event_id)
    state.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await verify(gateway, delivery, Attempts())
    assert info.value.operation == "fetch certificate"


async def test_a_certificate_paypal_does_not_have_makes_the_delivery_invalid(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    headers, body = await deliver(state, event_id)
    cert_url = next(v for k, v in headers.items() if k.lower() == "paypal-cert-url")
    headers = {k: v for k, v in headers.items() if k.lower() != "paypal-cert-url"}
    headers["PAYPAL-CERT-URL"] = cert_url.rsplit("/", 1)[0] + "/CERT-NOPE"

    with pytest.raises(errors.InvalidWebhook, match="names no certificate"):
        await verify(gateway, (headers, body), Attempts())
    state.faults.fail_next(1, 429)  # a refusal that is not about the certificate: retried
    with pytest.raises(errors.TransientUpstreamError):
        await verify(gateway, (headers, body), Attempts())


async def test_a_refund_names_the_capture(gateway: PayPalGateway, state: PayPalState) -> None:
    order_id, _ = await approved_order(gateway, state)
    state.capture_order(order_id)
    [capture_id] = capture_of(state, order_id)
    refund = state.refund_capture(capture_id, None)
    verified = await verify(gateway, await deliver(state, state.outbox[-1]), Attempts(order_id))
    [fact] = verified.facts
    assert (fact.kind, fact.gateway_payment_id, fact.gateway_object_id) == (
        "refund",
        capture_id,
        refund["id"],
    )
    assert verified.resource_id == capture_id


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v1/notifications/certs/X",
        f"https://{SIM_CERT_HOST}.evil.example/v1/notifications/certs/X",
        f"http://{SIM_CERT_HOST}/v1/notifications/certs/X",
        f"https://{SIM_CERT_HOST}/v1/oauth2/token",
    ],
)
async def test_a_foreign_certificate_url_is_refused_before_any_fetch(
    state: PayPalState, transport: httpx.ASGITransport, url: str
) -> None:
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    headers, body = await deliver(state, event_id)
    headers["paypal-cert-url"] = url
    http = UpstreamHttp("paypal", BASE, transport=transport)
    async with httpx.AsyncClient(transport=transport) as client:
        certs = RecordingCerts(client)
        gateway = PayPalGateway(
            paypal_api.PayPalApi(http, CLIENT_ID, SECRET),
            certs,
            webhook_id=state.webhook_id,
            livemode=False,
            cert_hosts={SIM_CERT_HOST},
            closers=(http.aclose,),
        )
        with pytest.raises(errors.InvalidWebhook, match="certificate URL refused"):
            await gateway.verify(body, headers, now=NOW.timestamp(), attempts=Attempts())
        await gateway.aclose()
    assert (certs.asked, certs.fetches, state.requests) == ([], 0, 0)


async def test_by_default_only_paypal_hosts_may_serve_the_certificate(
    state: PayPalState, transport: httpx.ASGITransport
) -> None:
    gateway = sim_gateway(state, transport, extra_cert_hosts=())
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    with pytest.raises(errors.InvalidWebhook, match="is not a PayPal host"):
        await verify(gateway, await deliver(state, event_id), Attempts())
    assert (gateway.certs.fetches, state.requests) == (0, 0)
    await gateway.aclose()


def tamper_one_byte(delivery: tuple[dict[str, str], bytes]) -> tuple[dict[str, str], bytes]:
    headers, body = delivery
    at = body.index(b'"value":"19.99"') + len(b'"value":"1')
    return headers, body[:at] + b"8" + body[at + 1 :]


def wrong_algorithm(delivery: tuple[dict[str, str], bytes]) -> tuple[dict[str, str], bytes]:
    headers, body = delivery
    return {**headers, "paypal-auth-algo": "SHA1withRSA"}, body


def signed_for_another_webhook(
    delivery: tuple[dict[str, str], bytes], state: PayPalState
) -> tuple[dict[str, str], bytes]:
    headers, body = delivery
    tid, time = headers["paypal-transmission-id"], headers["paypal-transmission-time"]
    return state.sign(body, tid, time, webhook_id="8PT597110X687430LKGECATA"), body


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ("webhook id", "signature does not match"),
        ("body", "signature does not match"),
        ("algorithm", "unsupported PAYPAL-AUTH-ALGO"),
    ],
)
async def test_forgeries_are_invalid(
    gateway: PayPalGateway, state: PayPalState, forgery: str, reason: str
) -> None:
    order_id, _ = await approved_order(gateway, state)
    state.capture_order(order_id)
    delivery = await deliver(state, state.outbox[-1])
    await verify(gateway, delivery, Attempts())  # the genuine one verifies
    forged = {
        "webhook id": signed_for_another_webhook(delivery, state),
        "body": tamper_one_byte(delivery),
        "algorithm": wrong_algorithm(delivery),
    }[forgery]
    with pytest.raises(errors.InvalidWebhook, match=reason):
        await verify(gateway, forged, Attempts(order_id))


async def test_a_gateway_configured_with_another_webhook_id_refuses_our_deliveries(
    state: PayPalState, transport: httpx.ASGITransport
) -> None:
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    gateway = sim_gateway(state, transport, webhook_id="8PT597110X687430LKGECATA")
    with pytest.raises(errors.InvalidWebhook, match="signature does not match"):
        await verify(gateway, await deliver(state, event_id), Attempts())
    await gateway.aclose()


async def test_no_webhook_id_is_a_settings_error(
    state: PayPalState, transport: httpx.ASGITransport
) -> None:
    event_id = state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    for verification in ("self", "postback"):
        gateway = sim_gateway(state, transport, webhook_id="", verification=verification)
        with pytest.raises(errors.InvalidSettings, match="webhook id"):
            await verify(gateway, await deliver(state, event_id), Attempts())
        await gateway.aclose()
    assert state.requests == 0


# --- postback verification ------------------------------------------------------------


async def test_postback_verification(state: PayPalState, transport: httpx.ASGITransport) -> None:
    gateway = sim_gateway(state, transport, verification="postback")
    order_id, event_id = await approved_order(gateway, state)
    delivery = await deliver(state, event_id)
    verified = await verify(gateway, delivery, Attempts(order_id))
    assert [f.kind for f in verified.facts] == ["pending", "paid"]
    with pytest.raises(errors.InvalidWebhook, match="PayPal says the signature does not verify"):
        await verify(gateway, tamper_one_byte(delivery), Attempts(order_id))
    with pytest.raises(errors.InvalidWebhook, match="PayPal says"):
        await verify(gateway, signed_for_another_webhook(delivery, state), Attempts(order_id))
    assert gateway.certs.fetches == 0
    await gateway.aclose()


async def test_unknown_verification_is_refused() -> None:
    with pytest.raises(errors.InvalidSettings, match="'self' or 'postback'"):
        connect(CLIENT_ID, SECRET, webhook_id="W", livemode=False, verification="none")  # type: ignore[arg-type]


# --- fetch ----------------------------------------------------------------------------


async def test_fetch_captures_an_approved_order(gateway: PayPalGateway, state: PayPalState) -> None:
    order_id, _ = await approved_order(gateway, state)  # the approval webhook never arrives
    created = await gateway.create_checkout(checkout_request(invoice_id=8))
    pending = await gateway.fetch(created.gateway_ref)
    assert pending is not None
    assert [(f.kind, f.gateway_payment_id, f.invoice_ref) for f in pending] == [
        ("pending", created.gateway_ref, "8")
    ]
    facts = await gateway.fetch(order_id)
    [capture_id] = capture_of(state, order_id)
    assert facts is not None
    assert [(f.kind, f.gateway_payment_id, f.alias_id) for f in facts] == [
        ("paid", order_id, capture_id)
    ]
    assert state.orders[order_id]["status"] == "COMPLETED"
    assert await gateway.fetch(order_id) == facts  # completed: read, not captured again
    assert capture_of(state, order_id) == [capture_id]


async def test_fetch_finds_a_partial_then_a_full_refund_keyed_as_their_webhooks(
    gateway: PayPalGateway, state: PayPalState
) -> None:
    order_id, _ = await approved_order(gateway, state)
    state.capture_order(order_id)
    [capture_id] = capture_of(state, order_id)
    partial = state.refund_capture(
        capture_id, {"amount": {"currency_code": "EUR", "value": "5.00"}}
    )
    partial_event = state.outbox[-1]

    facts = await gateway.fetch(order_id)

    assert facts is not None
    assert [(f.kind, f.gateway_payment_id, f.gateway_object_id, f.amount_minor) for f in facts] == [
        ("paid", order_id, capture_id, 1999),
        ("refund", capture_id, partial["id"], 500),
    ]
    webhook = await verify(gateway, await deliver(state, partial_event), Attempts(order_id))
    assert webhook.facts == (facts[1],)

    rest = state.refund_capture(capture_id, None)  # the rest: the capture is REFUNDED
    rest_event = state.outbox[-1]
    after = await gateway.fetch(order_id)

    assert after is not None
    assert after[:2] == facts
    assert [(f.kind, f.gateway_object_id, f.amount_minor, f.currency) for f in after[2:]] == [
        ("refund", rest["id"], 1499, "EUR")
    ]
    webhook = await verify(gateway, await deliver(state, rest_event), Attempts(order_id))
    assert webhook.facts == (after[2],)
    assert state.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]["status"] == (
        "REFUNDED"
    )


async def test_fetch_of_an_unknown_order_is_none(gateway: PayPalGateway) -> None:
    assert await gateway.fetch("5O190127TN364715T") is None


_CAPTURED = {"id": "C-1", "status": "COMPLETED", "amount": {"currency_code": "EUR", "value": "1"}}


@pytest.mark.parametrize(
    ("unit", "message"),
    [
        ({"amount": {}}, "get order: missing field"),
        (
            {"payments": {"captures": [_CAPTURED], "refunds": [{"status": "COMPLETED"}]}},
            r"get order: missing field 'order\.purchase_units\[0\]\.payments\.refunds\[0\]\.id'",
        ),
    ],
)
async def test_fetch_of_an_unreadable_order_is_permanent(
    unit: dict[str, Any], message: str
) -> None:
    order = {"id": "O-1", "status": "COMPLETED", "purchase_units": [unit]}
    gateway = connect(
        CLIENT_ID,
        SECRET,
        webhook_id="W",
        livemode=False,
        transport=mock_api(httpx.Response(200, json=order)),
    )
    with pytest.raises(errors.PermanentUpstreamError, match=message):
        await gateway.fetch("O-1")
    await gateway.aclose()


# --- connect, secrets, closing --------------------------------------------------------


@pytest.mark.parametrize(
    ("livemode", "host"), [(True, "api-m.paypal.com"), (False, "api-m.sandbox.paypal.com")]
)
async def test_the_default_api_url_follows_the_mode(livemode: bool, host: str) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 100})
        return httpx.Response(404, json={"name": "RESOURCE_NOT_FOUND"})

    gateway = connect(
        CLIENT_ID,
        SECRET,
        webhook_id="W",
        livemode=livemode,
        transport=httpx.MockTransport(handler),
    )
    assert gateway.livemode is livemode
    assert await gateway.fetch("O-1") is None
    assert hosts == [host, host]
    await gateway.aclose()


async def test_a_missing_token_endpoint_is_not_an_unknown_order() -> None:
    gateway = connect(
        CLIENT_ID,
        SECRET,
        webhook_id="W",
        livemode=False,
        transport=httpx.MockTransport(lambda request: httpx.Response(404)),
    )
    with pytest.raises(errors.PermanentUpstreamError, match="get access token"):
        await gateway.fetch("O-1")
    await gateway.aclose()


def texts_of(exc: BaseException) -> str:
    """Everything an error shows: message, repr, details, and the same for its causes."""
    shown: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        shown += [str(current), repr(current)]
        if isinstance(current, errors.FluxError):
            shown.append(json.dumps(current.to_dict(), default=str))
        current = current.__cause__ or current.__context__
    return "\n".join(shown)


async def test_the_client_secret_never_appears_in_errors(
    state: PayPalState, transport: httpx.ASGITransport
) -> None:
    wrong = "wrong-secret-9f8e7d6c5b4a"
    gateway = connect(
        CLIENT_ID,
        wrong,
        webhook_id=state.webhook_id,
        livemode=False,
        base_url=BASE,
        transport=transport,
    )
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await gateway.create_checkout(checkout_request())
    assert info.value.status == 401
    assert wrong not in texts_of(info.value)
    await gateway.aclose()

    def echo(request: httpx.Request) -> httpx.Response:
        # A misbehaving upstream that echoes the request, credentials included.
        seen = {"headers": dict(request.headers), "body": request.content.decode()}
        return httpx.Response(400, text=json.dumps(seen))

    echoing = connect(
        CLIENT_ID, SECRET, webhook_id="W", livemode=False, transport=httpx.MockTransport(echo)
    )
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await echoing.fetch("O-1")
    shown = texts_of(info.value)
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert SECRET not in shown
    assert basic not in shown
    await echoing.aclose()
    with pytest.raises(errors.InvalidSettings) as missing:
        connect("", SECRET, webhook_id="W", livemode=False)
    assert SECRET not in texts_of(missing.value)


async def test_aclose_closes_both_clients() -> None:
    closed: list[int] = []

    class Closing(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(1)

    gateway = connect(
        CLIENT_ID,
        SECRET,
        webhook_id="W",
        livemode=False,
        transport=Closing(lambda request: httpx.Response(404)),
    )
    await gateway.aclose()
    assert len(closed) == 2
