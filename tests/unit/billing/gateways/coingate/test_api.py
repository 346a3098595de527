"""The CoinGate API client against the simulator (in-process, over httpx.ASGITransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import api as coingate_api
from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout
from fluxbilling.billing.gateways.coingate import events as coingate_events
from fluxbilling.billing.gateways.coingate import verify as coingate_verify
from fluxbilling.redaction import MASK
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.coingate import CoinGateState, Notifier, create_app

pytestmark = pytest.mark.anyio

API_TOKEN = "cg-sandbox-api-token"
URLS = {
    "callback_url": "https://billing.example/webhooks/coingate/main",
    "success_url": "https://billing.example/invoices/42",
    "cancel_url": "https://billing.example/invoices/42?canceled=1",
}


@pytest.fixture
def state() -> CoinGateState:
    return CoinGateState(api_token=API_TOKEN, faults=Faults(timeout_delay=0.01))


@pytest.fixture
async def api(state: CoinGateState) -> AsyncIterator[coingate_api.CoinGateApi]:
    client = coingate_api.connect(
        API_TOKEN, sandbox=True, transport=httpx.ASGITransport(app=create_app(state))
    )
    yield client
    await client.aclose()


def body(token: str = "tok-42", **changes: str) -> dict[str, str]:  # noqa: S107
    request = coingate_checkout.order_request(
        42, 1999, "EUR", token=token, title="Invoice 42", **URLS
    )
    return {**request, **changes}


async def test_create_then_get(state: CoinGateState, api: coingate_api.CoinGateApi) -> None:
    created = await api.create_order(body())
    assert (created["status"], created["order_id"], created["token"]) == ("new", "42", "tok-42")
    stored = state.orders[created["id"]]
    assert (stored["price_amount"], stored["_callback_url"]) == ("19.99", URLS["callback_url"])
    fetched = await api.get_order(created["id"])
    assert fetched is not None
    assert fetched["payment_url"] == created["payment_url"]
    assert "token" not in fetched


async def test_requests_carry_the_token_scheme_and_are_redacted(
    api: coingate_api.CoinGateApi,
) -> None:
    await api.create_order(body())
    exchange = api.http.recorder.last
    assert exchange is not None
    assert exchange.url == "https://api-sandbox.coingate.com/v2/orders"
    assert exchange.request_headers["Authorization"] == MASK
    assert exchange.request_body["token"] == MASK
    assert API_TOKEN not in str(exchange.to_dict())


async def test_unknown_order_is_none(api: coingate_api.CoinGateApi) -> None:
    assert await api.get_order(987654) is None


@pytest.mark.parametrize("order_id", [0, -1, True])
async def test_order_ids_are_positive_integers(
    api: coingate_api.CoinGateApi, order_id: int
) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.get_order(order_id)


async def test_wrong_token_is_permanent(state: CoinGateState) -> None:
    api = coingate_api.connect(
        "another-token", sandbox=True, transport=httpx.ASGITransport(app=create_app(state))
    )
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.get_order(1)
    await api.aclose()
    assert info.value.status == 401
    assert "BadCredentials" in info.value.message


async def test_invalid_order_is_permanent_and_names_the_errors(
    api: coingate_api.CoinGateApi,
) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.create_order(body(title="ab"))
    assert info.value.status == 422
    assert "Title is too short" in info.value.message


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_statuses(
    state: CoinGateState, api: coingate_api.CoinGateApi, status: int
) -> None:
    state.faults.fail_next(1, status)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await api.get_order(1)
    assert info.value.status == status


async def test_crash_after_create_is_transient_and_leaves_an_order(
    state: CoinGateState, api: coingate_api.CoinGateApi
) -> None:
    state.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await api.create_order(body())
    assert len(state.orders) == 1


async def test_a_non_json_answer_is_permanent() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    api = coingate_api.connect(API_TOKEN, sandbox=False, transport=transport)
    assert api.http.base_url == "https://api.coingate.com/v2/"
    with pytest.raises(errors.PermanentUpstreamError, match="without a JSON object"):
        await api.get_order(1)
    with pytest.raises(errors.PermanentUpstreamError):
        await api.create_order(body())
    await api.aclose()


async def test_the_api_v2_prefix_works_too(state: CoinGateState) -> None:
    api = coingate_api.connect(
        API_TOKEN,
        sandbox=True,
        base_url="https://api-sandbox.coingate.com/api/v2/",
        transport=httpx.ASGITransport(app=create_app(state)),
    )
    created = await api.create_order(body())
    assert await api.get_order(created["id"]) is not None
    await api.aclose()


def test_api_urls() -> None:
    assert coingate_api.api_url(sandbox=True) == "https://api-sandbox.coingate.com/v2/"
    assert coingate_api.api_url(sandbox=False) == "https://api.coingate.com/v2/"


def test_credential() -> None:
    assert coingate_api.credential("abc").headers == {"Authorization": "Token abc"}
    with pytest.raises(errors.InvalidSettings):
        coingate_api.credential("")


async def test_callback_token_refetch_classify(
    state: CoinGateState, api: coingate_api.CoinGateApi
) -> None:
    """The whole authenticity path: callback → token check → re-fetch → fact."""
    token = coingate_verify.new_callback_token()
    stored = coingate_verify.hash_token(token, "installation-secret")
    created = await api.create_order(body(token=token))
    state.pay(created["id"])
    state.confirm(created["id"])

    received: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    await Notifier(state, transport=httpx.MockTransport(endpoint)).deliver_all()
    facts = []
    for request in received:
        callback = coingate_verify.parse_callback(request.content, request.headers["content-type"])
        coingate_verify.check_token(callback.token, stored, secret="installation-secret")
        order = await api.get_order(callback.id)
        assert order is not None
        facts.append(coingate_events.classify(order, sandbox=True))
    # Each callback re-fetches the current order, so even the early ones say "paid" now.
    assert [f.kind for f in facts] == ["paid", "paid", "paid"]
    assert {(f.gateway_payment_id, f.invoice_ref, f.amount_minor) for f in facts} == {
        (str(created["id"]), "42", 1999)
    }
    forged = coingate_verify.parse_callback(received[0].content.replace(token.encode(), b"x"), None)
    with pytest.raises(errors.InvalidWebhook):
        coingate_verify.check_token(forged.token, stored, secret="installation-secret")
