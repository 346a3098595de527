"""The thin PayPal client and the certificate cache, against the simulator in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal import api as paypal_api
from fluxbilling.billing.gateways.paypal import checkout as paypal_checkout
from fluxbilling.billing.gateways.paypal import events as paypal_events
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling_simulators import _paypal_state
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.paypal import SIM_CERT_HOST, Notifier, PayPalState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

BASE = "https://api-m.sandbox.paypal.test/"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
SECRET = "sim-secret-0123456789"


class Ticker:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _paypal_state.new_key()


@pytest.fixture
def state(key: rsa.RSAPrivateKey) -> PayPalState:
    return PayPalState(
        secret=SECRET, seed=2, key=key, clock=lambda: NOW, faults=Faults(timeout_delay=0.01)
    )


@pytest.fixture
def app(state: PayPalState) -> ASGIApp:
    return create_app(state)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
async def http(app: ASGIApp) -> AsyncIterator[UpstreamHttp]:
    client = UpstreamHttp("paypal", BASE, transport=httpx.ASGITransport(app=app))
    yield client
    await client.aclose()


@pytest.fixture
def api(http: UpstreamHttp, ticker: Ticker) -> paypal_api.PayPalApi:
    return paypal_api.PayPalApi(http, "sim-client-id", SECRET, clock=ticker)


def tokens_issued(state: PayPalState) -> int:
    return len(state.tokens)


# --- PayPalApi ------------------------------------------------------------------------


async def test_token_is_cached_until_shortly_before_expiry(
    api: paypal_api.PayPalApi, state: PayPalState, ticker: Ticker
) -> None:
    first = await api.access_token()
    assert await api.access_token() == first
    ticker.now += 32400 - 300 - 1
    assert await api.access_token() == first
    assert tokens_issued(state) == 1
    ticker.now += 1
    assert await api.access_token() != first
    assert tokens_issued(state) == 2


async def test_concurrent_callers_share_one_token_fetch(
    api: paypal_api.PayPalApi, state: PayPalState
) -> None:
    found: list[str] = []

    async def fetch() -> None:
        found.append(await api.access_token())

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(fetch)
    assert len(set(found)) == 1
    assert tokens_issued(state) == 1


async def test_wrong_secret_is_permanent_and_redacted(
    http: UpstreamHttp, state: PayPalState
) -> None:
    bad = paypal_api.PayPalApi(http, "sim-client-id", "wrong-secret-value")
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await bad.get_order("X")
    assert (info.value.status, info.value.operation) == (401, "get access token")
    exchange = http.recorder.last
    assert exchange is not None
    recorded = json.dumps(exchange.to_dict())
    assert "wrong-secret-value" not in recorded
    assert exchange.request_headers["Authorization"] == "***"
    assert tokens_issued(state) == 0


async def test_token_answer_is_redacted_in_the_exchange_record(
    api: paypal_api.PayPalApi, http: UpstreamHttp
) -> None:
    token = await api.access_token()
    exchange = http.recorder.last
    assert exchange is not None
    assert token not in json.dumps(exchange.to_dict())


async def test_revoked_token_is_replaced_once(
    api: paypal_api.PayPalApi, state: PayPalState
) -> None:
    order = await api.create_order(paypal_checkout.order_request("INV-1", 100, "EUR"), "rid-1")
    state.revoke_tokens()
    assert (await api.get_order(order["id"]))["id"] == order["id"]
    assert tokens_issued(state) == 1  # the revoked one is gone, one new


async def test_a_401_twice_is_permanent(api: paypal_api.PayPalApi, state: PayPalState) -> None:
    await api.access_token()
    state.faults.fail_next(2, 401)
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.get_order("X")
    assert info.value.status == 401


async def test_create_order_is_idempotent_by_request_id(
    api: paypal_api.PayPalApi, state: PayPalState
) -> None:
    body = paypal_checkout.order_request("INV-42", 1999, "EUR")
    first = await api.create_order(body, "inv-42-attempt-1")
    again = await api.create_order(body, "inv-42-attempt-1")
    assert first == again
    assert first["purchase_units"][0]["invoice_id"] == "INV-42"
    assert "approve" in {link["rel"] for link in first["links"]}
    assert list(state.orders) == [first["id"]]


async def test_capture_and_fetch_give_the_same_fact_as_the_webhook(
    api: paypal_api.PayPalApi, state: PayPalState
) -> None:
    order = await api.create_order(paypal_checkout.order_request("INV-42", 1999, "EUR"), "r-1")
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.capture_order(order["id"], "c-0")
    assert info.value.status == 422
    assert "ORDER_NOT_APPROVED" in str(info.value)
    state.approve(order["id"])
    captured = await api.capture_order(order["id"], "c-1")
    assert await api.capture_order(order["id"], "c-1") == captured  # a retried capture
    from_capture_call = paypal_events.fact_from_order(captured, livemode=False)
    capture_id = from_capture_call.alias_id
    assert from_capture_call.gateway_payment_id == order["id"]
    from_get_capture = paypal_events.fact_from_capture(
        await api.get_capture(capture_id), livemode=False
    )
    from_get_order = paypal_events.fact_from_order(await api.get_order(order["id"]), livemode=False)
    webhook = paypal_events.parse_event(state.notifications[state.outbox[-1]].body)
    from_webhook = paypal_events.classify(webhook, livemode=False)
    assert from_capture_call == from_get_capture == from_get_order == from_webhook
    assert (from_webhook.kind, from_webhook.invoice_ref, from_webhook.amount_minor) == (
        "paid",
        "INV-42",
        1999,
    )


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_upstream_failures_are_transient(
    api: paypal_api.PayPalApi, state: PayPalState, status: int
) -> None:
    await api.access_token()
    state.faults.fail_next(1, status)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await api.get_capture("X")
    assert (info.value.status, info.value.operation) == (status, "get capture")


async def test_unknown_capture_is_permanent(api: paypal_api.PayPalApi) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.get_capture("NOPE/../../v1/oauth2/token")
    assert info.value.status == 404


async def test_verify_webhook_signature_postback(
    api: paypal_api.PayPalApi, state: PayPalState, app: ASGIApp
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        received.append((dict(request.headers), request.content))
        return httpx.Response(200)

    state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    async with httpx.AsyncClient(transport=httpx.MockTransport(hook)) as client:
        await Notifier(state, client, "https://shop.test/webhooks/paypal").deliver()
    headers, body = received[0]
    assert await api.verify_webhook_signature(headers, body, state.webhook_id) is True
    assert await api.verify_webhook_signature(headers, body, "OTHERWEBHOOK") is False
    tampered = body.replace(b'"X"', b'"Y"')
    assert await api.verify_webhook_signature(headers, tampered, state.webhook_id) is False
    before = state.requests
    with pytest.raises(errors.InvalidWebhook, match="missing header PAYPAL-TRANSMISSION-SIG"):
        await api.verify_webhook_signature(
            {k: v for k, v in headers.items() if k != "paypal-transmission-sig"},
            body,
            state.webhook_id,
        )
    for raw in (b"[1]", b"{nope", b"\xff"):
        with pytest.raises(errors.InvalidWebhook, match="malformed JSON body"):
            await api.verify_webhook_signature(headers, raw, state.webhook_id)
    assert state.requests == before


def mock_http(answer: httpx.Response) -> UpstreamHttp:
    return UpstreamHttp("paypal", BASE, transport=httpx.MockTransport(lambda request: answer))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"access_token": "", "expires_in": 10}),
        httpx.Response(200, json={"access_token": "t", "expires_in": True}),
        httpx.Response(200, json={"access_token": "t"}),
        httpx.Response(200, json=[1]),
        httpx.Response(200, text="<html>"),
    ],
)
async def test_malformed_token_answers_are_permanent(answer: httpx.Response) -> None:
    api = paypal_api.PayPalApi(mock_http(answer), "id", "secret-value")
    with pytest.raises(errors.PermanentUpstreamError, match="get access token"):
        await api.access_token()


async def test_postback_answer_without_status_is_permanent(
    state: PayPalState, key: rsa.RSAPrivateKey
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 100})
        return httpx.Response(200, json={})

    http = UpstreamHttp("paypal", BASE, transport=httpx.MockTransport(handler))
    api = paypal_api.PayPalApi(http, "id", "secret-value")
    headers = state.sign(b"{}", "t-1", "2026-11-26T07:00:00Z")
    with pytest.raises(errors.PermanentUpstreamError, match="verification_status"):
        await api.verify_webhook_signature(headers, b"{}", state.webhook_id)


async def test_short_token_lifetimes_still_cache(ticker: Ticker) -> None:
    fetched: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(1)
        return httpx.Response(200, json={"access_token": f"t{len(fetched)}", "expires_in": 60})

    api = paypal_api.PayPalApi(
        UpstreamHttp("paypal", BASE, transport=httpx.MockTransport(handler)),
        "id",
        "secret-value",
        clock=ticker,
    )
    assert await api.access_token() == await api.access_token() == "t1"
    ticker.now += 30
    assert await api.access_token() == "t2"


async def test_credentials_are_required(http: UpstreamHttp) -> None:
    with pytest.raises(errors.InvalidSettings):
        paypal_api.PayPalApi(http, "", "secret")


# --- CertCache ------------------------------------------------------------------------


class Counting:
    """An httpx transport that records requests and answers with `answer`."""

    def __init__(self, answer: httpx.Response | Exception) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


SIM_URL = f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-1"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.paypal.com.evil.test/v1/notifications/certs/CERT-1",
        "https://evil.test/paypal.com/v1/notifications/certs/CERT-1",
        "https://user@paypal.com@evil.test/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://169.254.169.254/latest/meta-data/",
        "https://api.paypal.com/v1/oauth2/token",
        SIM_URL,  # a test host is foreign unless allowed
    ],
)
async def test_cert_cache_refuses_foreign_urls_before_any_request(url: str) -> None:
    transport = Counting(httpx.Response(200, text="never"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        cache = paypal_api.CertCache(client)
        with pytest.raises(errors.InvalidWebhook, match="certificate URL refused"):
            await cache.get(url)
    assert transport.requests == []


async def test_cert_cache_fetches_from_the_simulator_and_caches(
    app: ASGIApp, state: PayPalState, ticker: Ticker
) -> None:
    async with asgi_client(app, BASE) as client:
        cache = paypal_api.CertCache(client, allowed_hosts={SIM_CERT_HOST}, ttl=60, clock=ticker)
        pem = await cache.get(state.cert_url)
        assert pem == state.cert_pem()
        assert await cache.get(state.cert_url) == pem
        assert (cache.fetches, state.requests) == (1, 1)
        ticker.now += 60
        await cache.get(state.cert_url)
        assert (cache.fetches, state.requests) == (2, 2)
        cache.forget(state.cert_url)
        await cache.get(state.cert_url)
        assert cache.fetches == 3


async def test_cert_cache_and_verify_end_to_end(app: ASGIApp, state: PayPalState) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        received.append((dict(request.headers), request.content))
        return httpx.Response(200)

    state.emit("PAYMENT.CAPTURE.COMPLETED", "capture", {"id": "X"}, "test")
    async with httpx.AsyncClient(transport=httpx.MockTransport(hook)) as to_shop:
        await Notifier(state, to_shop, "https://shop.test/webhooks/paypal").deliver()
    headers, body = received[0]
    async with asgi_client(app, BASE) as client:
        cache = paypal_api.CertCache(client, allowed_hosts={SIM_CERT_HOST})
        transmission = paypal_verify.read_transmission(headers)
        pem = await cache.get(transmission.cert_url)
    hosts = {SIM_CERT_HOST}
    assert (
        paypal_verify.verify(headers, body, state.webhook_id, pem, NOW, cert_hosts=hosts)
        == transmission
    )


PEM_OK = _paypal_state.make_certificate(
    _paypal_state.new_key(), not_before=NOW, not_after=NOW
).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("answer", "raised", "text"),
    [
        (
            httpx.Response(200, text="<html>not a cert</html>"),
            errors.PermanentUpstreamError,
            "not a PEM",
        ),
        (
            httpx.Response(
                200, content=b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            errors.PermanentUpstreamError,
            "not a PEM",
        ),
        (
            httpx.Response(200, content=PEM_OK + b"x" * 70_000),
            errors.PermanentUpstreamError,
            "over 65536 bytes",
        ),
        (
            httpx.Response(404, json={"name": "RESOURCE_NOT_FOUND"}),
            errors.PermanentUpstreamError,
            "HTTP 404",
        ),
        (
            httpx.Response(302, headers={"Location": "https://evil.test/cert"}),
            errors.PermanentUpstreamError,
            "HTTP 302",
        ),
        (httpx.Response(503, text="busy"), errors.TransientUpstreamError, "HTTP 503"),
        (httpx.ConnectError("refused"), errors.TransientUpstreamError, "cannot connect"),
        (httpx.ReadTimeout("slow"), errors.TransientUpstreamError, "timed out"),
    ],
)
async def test_cert_cache_refuses_bad_answers(
    answer: httpx.Response | Exception, raised: type[errors.UpstreamError], text: str
) -> None:
    transport = Counting(answer)
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        cache = paypal_api.CertCache(client, allowed_hosts={SIM_CERT_HOST})
        with pytest.raises(raised, match=text) as info:
            await cache.get(SIM_URL)
        assert info.value.operation == "fetch certificate"
        assert len(transport.requests) == 1  # a redirect is not followed
        with pytest.raises(raised):
            await cache.get(SIM_URL)  # failures are not cached
    assert len(transport.requests) == 2


async def test_cert_cache_keeps_a_bounded_number_of_entries(ticker: Ticker) -> None:
    transport = Counting(httpx.Response(200, content=PEM_OK))
    async with httpx.AsyncClient(transport=httpx.MockTransport(transport)) as client:
        cache = paypal_api.CertCache(
            client, allowed_hosts={SIM_CERT_HOST}, max_entries=2, clock=ticker
        )
        for n in (1, 2, 3):
            await cache.get(f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-{n}")
        await cache.get(f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-3")
        await cache.get(f"https://{SIM_CERT_HOST}/v1/notifications/certs/CERT-1")
    assert [r.url.path.rsplit("/", 1)[-1] for r in transport.requests] == [
        "CERT-1",
        "CERT-2",
        "CERT-3",
        "CERT-1",
    ]
