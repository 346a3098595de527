"""The CoinGate simulator speaks API v2's shapes, walks orders and notifies like CoinGate."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import events as coingate_events
from fluxbilling.billing.gateways.coingate import verify as coingate_verify
from fluxbilling_simulators import coingate as coingate_sim
from fluxbilling_simulators._coingate_state import (
    MAX_RETRIES,
    delivery_outcome,
    encode_callback,
    retry_delay,
)
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.coingate import USER_AGENT, CoinGateState, Notifier, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

API = "https://api-sandbox.coingate.com/v2/"
SIM = "https://api-sandbox.coingate.com/_sim"
CALLBACK_URL = "https://billing.example/webhooks/coingate/main"
TOKEN = "our-per-order-token"
BODY = {
    "order_id": "42",
    "price_amount": "19.99",
    "price_currency": "EUR",
    "title": "Invoice 42",
    "description": "1 x VPS M",
    "callback_url": CALLBACK_URL,
    "success_url": "https://billing.example/invoices/42",
    "cancel_url": "https://billing.example/invoices/42",
    "token": TOKEN,
}
REFUND_BODY = {
    "amount": "5",
    "address": "bc1qrefund",
    "currency_id": "1",
    "platform_id": "1",
    "reason": "duplicate",
    "email": "customer@example.com",
    "ledger_account_id": "eur",
}


@pytest.fixture
def state() -> CoinGateState:
    return CoinGateState(api_token="tok", seed=1, faults=Faults(timeout_delay=0.01))


@pytest.fixture
async def api(state: CoinGateState) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": "Token tok"}
    async with asgi_client(create_app(state), API, headers=headers) as client:
        yield client


class Receiver:
    """Our callback endpoint's stand-in: answers queued statuses (then 200), keeps requests."""

    def __init__(self) -> None:
        self.answers: deque[int | type[httpx.TransportError]] = deque()
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.popleft() if self.answers else 200
        if isinstance(answer, int):
            return httpx.Response(answer)
        raise answer("simulated", request=request)

    def statuses(self) -> list[str]:
        return [self.parse(r).status for r in self.requests]

    @staticmethod
    def parse(request: httpx.Request) -> coingate_verify.CoinGateCallback:
        return coingate_verify.parse_callback(request.content, request.headers["content-type"])


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def notifier(state: CoinGateState, receiver: Receiver) -> AsyncIterator[Notifier]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as client:
        yield Notifier(state, client)


async def create(api: httpx.AsyncClient, **changes: str) -> dict[str, Any]:
    response = await api.post("orders", data={**BODY, **changes})
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def fetched(state: CoinGateState, order_id: int) -> dict[str, Any]:
    return state.public(state.orders[order_id])


# --- API --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer tok", "Token nope", "tok"])
async def test_only_the_token_scheme_authenticates(
    api: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header or ""}
    response = await api.get("orders/1", headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"message": "Not found App by Access-Key", "reason": "BadCredentials"},
    )


async def test_create_answers_200_with_the_order_and_our_token(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    order = await create(api)
    assert order["status"] == "new"
    assert (order["price_amount"], order["price_currency"], order["order_id"]) == (
        "19.99",
        "EUR",
        "42",
    )
    assert order["token"] == TOKEN
    assert order["payment_url"].startswith("https://pay-sandbox.coingate.com/invoice/")
    assert order["underpaid_amount"] == order["overpaid_amount"] == "0"
    assert order["refunds"] == order["fees"] == []
    got = await api.get(f"orders/{order['id']}")
    assert got.status_code == 200
    assert got.json() == {k: v for k, v in order.items() if k != "token"}
    assert state.orders[order["id"]]["_callback_url"] == CALLBACK_URL
    assert state.queue == deque()  # "new" sends no callback


async def test_create_accepts_json_and_prints_amounts_like_coingate(
    api: httpx.AsyncClient,
) -> None:
    body = {**BODY, "price_amount": 1369, "price_currency": "usd", "token": ""}
    response = await api.post("orders", json=body)
    order = response.json()
    assert (order["price_amount"], order["price_currency"]) == ("1369.0", "USD")
    assert len(order["token"]) == 30 and order["token"].isalnum()  # generated: none sent
    again = await api.get(f"https://api-sandbox.coingate.com/api/v2/orders/{order['id']}")
    assert again.json()["id"] == order["id"]


async def test_live_payment_urls() -> None:
    state = CoinGateState(api_token="tok", sandbox=False)
    async with asgi_client(create_app(state), API, headers={"Authorization": "Token tok"}) as api:
        order = await create(api)
    assert order["payment_url"].startswith("https://pay.coingate.com/invoice/")


async def test_validation_errors_use_coingates_shape(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    response = await api.post("orders", data={"title": "ab", "callback_url": "not a url"})
    assert response.status_code == 422
    assert response.json() == {
        "message": "Order is not valid",
        "reason": "OrderIsNotValid",
        "errors": [
            "Price amount can't be blank",
            "Price currency can't be blank",
            "Title is too short (minimum is 3 characters)",
            "Callback url is not a valid URL",
        ],
    }
    bad = {
        **BODY,
        "price_amount": "-1",
        "price_currency": "XYZ",
        "receive_currency": "DOGE",
        "description": "d" * 501,
    }
    problems = (await api.post("orders", data=bad)).json()["errors"]
    assert problems == [
        "Price amount must be greater than 0",
        "Price currency is not supported",
        "Receive currency is not supported",
        "Description is too long (maximum is 500 characters)",
    ]
    assert (await api.post("orders", data={**BODY, "price_amount": "ten"})).json()["errors"] == [
        "Price amount is not a number"
    ]
    assert state.orders == {}


async def test_btc_priced_orders_exist_at_coingate(api: httpx.AsyncClient) -> None:
    order = await create(api, price_amount="0.001", price_currency="BTC")
    assert order["price_currency"] == "BTC"


async def test_not_found_shapes(api: httpx.AsyncClient) -> None:
    missing = await api.get("orders/999")
    assert (missing.status_code, missing.json()) == (
        404,
        {"message": "Order not found", "reason": "OrderNotFound"},
    )
    nowhere = await api.get("nowhere")
    assert (nowhere.status_code, nowhere.json()["reason"]) == (404, "PageNotFound")


async def test_callback_ips_need_no_auth(api: httpx.AsyncClient) -> None:
    response = await api.get("ips-v4", headers={"Authorization": ""})
    assert response.text.splitlines() == ["192.0.2.10", "192.0.2.11"]


# --- driving orders ---------------------------------------------------------------------


async def test_pending_confirming_paid_queues_snapshots(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    order_id = (await create(api))["id"]
    pending = state.choose_currency(order_id, "btc")
    assert (pending["pay_currency"], pending["underpaid_amount"]) == ("BTC", pending["pay_amount"])
    state.pay(order_id)
    paid = state.confirm(order_id)
    assert paid["status"] == "paid"
    assert paid["underpaid_amount"] == "0"
    assert paid["paid_at"] and paid["is_refundable"] is True
    assert paid["fees"][0]["type"] == "processing_fee"
    queued = [state.callbacks[i] for i in state.queue]
    assert [c.status for c in queued] == ["pending", "confirming", "paid"]
    assert [c.fields["status"] for c in queued] == ["pending", "confirming", "paid"]
    assert "fees" not in queued[1].fields and "fees" in queued[2].fields
    assert {c.fields["token"] for c in queued} == {TOKEN}
    fact = coingate_events.classify((await api.get(f"orders/{order_id}")).json(), sandbox=True)
    assert (fact.kind, fact.amount_minor, fact.invoice_ref, fact.livemode) == (
        "paid",
        1999,
        "42",
        False,
    )


async def test_confirming_can_be_skipped(state: CoinGateState, api: httpx.AsyncClient) -> None:
    order_id = (await create(api))["id"]
    state.confirm(order_id)
    assert [state.callbacks[i].status for i in state.queue] == ["pending", "paid"]
    assert coingate_events.classify(fetched(state, order_id), sandbox=True).kind == "paid"


@pytest.mark.parametrize(
    ("steps", "status", "kind"),
    [
        (["expire"], "expired", "failed"),
        (["cancel"], "canceled", "failed"),
        (["choose_currency", "expire"], "expired", "failed"),
        (["choose_currency", "cancel"], "canceled", "failed"),
        (["pay", "invalidate"], "invalid", "failed"),
        (["choose_currency", "invalidate"], "invalid", "failed"),
        (["underpay", "expire"], "expired", "underpaid"),
        (["underpay", "accept_underpaid"], "paid", "underpaid"),
        (["choose_currency"], "pending", "pending"),
        (["pay"], "confirming", "pending"),
        (["underpay"], "pending", "pending"),
    ],
)
async def test_walks_and_their_facts(
    state: CoinGateState, api: httpx.AsyncClient, steps: list[str], status: str, kind: str
) -> None:
    order_id = (await create(api))["id"]
    for step in steps:
        getattr(state, step)(order_id)
    order = fetched(state, order_id)
    assert order["status"] == status
    assert coingate_events.classify(order, sandbox=True).kind == kind


async def test_underpayment_shows_the_rest_and_sends_no_callback(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    before = len(state.queue)
    order = state.underpay(order_id, "0.25")
    assert len(state.queue) == before
    due, missing = (Decimal(order[k]) for k in ("pay_amount", "underpaid_amount"))
    assert missing == due - (due * Decimal("0.25")).quantize(Decimal("0.00000001"), ROUND_DOWN)
    expired = state.expire(order_id)
    fact = coingate_events.classify(expired, sandbox=True)
    assert fact.kind == "underpaid"
    assert 490 <= fact.amount_minor <= 500  # about a quarter of 19.99 EUR arrived


@pytest.mark.parametrize(
    ("steps", "then"),
    [
        (["confirm"], "expire"),
        (["confirm"], "cancel"),
        (["expire"], "confirm"),
        (["expire"], "pay"),
        (["cancel"], "refund"),
        (["pay"], "cancel"),
        (["pay"], "underpay"),
        (["choose_currency"], "choose_currency"),
        (["choose_currency"], "accept_underpaid"),
    ],
)
async def test_illegal_transitions_are_conflicts(
    state: CoinGateState, api: httpx.AsyncClient, steps: list[str], then: str
) -> None:
    order_id = (await create(api))["id"]
    for step in steps:
        getattr(state, step)(order_id)
    status = state.orders[order_id]["status"]
    with pytest.raises(errors.Conflict):
        getattr(state, then)(order_id)
    assert state.orders[order_id]["status"] == status


async def test_helper_arguments_are_checked(state: CoinGateState, api: httpx.AsyncClient) -> None:
    order_id = (await create(api))["id"]
    with pytest.raises(errors.NotFound):
        state.pay(999)
    with pytest.raises(errors.UserError):
        state.choose_currency(order_id, "DOGE")
    for fraction in ("1", "0", "half"):
        with pytest.raises(errors.UserError):
            state.underpay(order_id, fraction)
    for overpay in ("-1", "NaN"):
        with pytest.raises(errors.UserError):
            state.pay(order_id, overpay=overpay)
    assert state.orders[order_id]["status"] == "new"


async def test_refunds_partial_then_full(state: CoinGateState, api: httpx.AsyncClient) -> None:
    order_id = (await create(api))["id"]
    state.confirm(order_id)
    partial = state.refund(order_id, "5")
    assert partial["status"] == "partially_refunded"
    assert partial["refunds"][0]["request_amount"] == "5.0"
    fact = coingate_events.classify(partial, sandbox=True)
    assert (fact.kind, fact.amount_minor, fact.gateway_object_id) == (
        "refund",
        500,
        f"{order_id}:refunds",
    )
    with pytest.raises(errors.UserError):
        state.refund(order_id, "15")
    full = state.refund(order_id)
    assert (full["status"], full["is_refundable"]) == ("refunded", False)
    assert coingate_events.classify(full, sandbox=True).amount_minor == 1999
    assert [state.callbacks[i].status for i in state.queue][-2:] == [
        "partially_refunded",
        "refunded",
    ]


async def test_no_callback_url_means_no_callbacks(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    order_id = (await create(api, callback_url=""))["id"]
    state.confirm(order_id)
    assert state.callbacks == {}


# --- notifier ---------------------------------------------------------------------------


async def paid_order(state: CoinGateState, api: httpx.AsyncClient) -> int:
    order_id: int = (await create(api))["id"]
    state.pay(order_id)
    state.confirm(order_id)
    return order_id


async def test_callbacks_are_form_posts_with_the_orders_token(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    order_id = await paid_order(state, api)
    attempts = await notifier.deliver_all()
    assert [a.outcome for a in attempts] == ["delivered"] * 3
    assert receiver.statuses() == ["pending", "confirming", "paid"]
    request = receiver.requests[-1]
    assert (request.method, str(request.url)) == ("POST", CALLBACK_URL)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"] == USER_AGENT
    assert b"fees%5B%5D%5Btype%5D=processing_fee" in request.content
    callback = receiver.parse(request)
    coingate_verify.check_token(callback.token, TOKEN)
    assert (callback.id, callback.order_id) == (order_id, "42")
    assert callback.fields["price_amount"] == "19.99"
    assert [c.state for c in state.callbacks.values()] == ["delivered"] * 3
    assert notifier.queued == []
    assert await notifier.deliver_next() is None


async def test_json_callbacks(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    state.callback_format = "json"
    order_id = await paid_order(state, api)
    await notifier.deliver_all()
    request = receiver.requests[-1]
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.content)
    assert (payload["id"], payload["is_refundable"], payload["token"]) == (order_id, True, TOKEN)
    assert payload["fees"][0]["currency"] == {"symbol": "BTC"}
    assert receiver.parse(request).status == "paid"


@pytest.mark.parametrize(
    ("answer", "outcome", "retry_in"),
    [
        (200, "delivered", None),
        (204, "delivered", None),
        (201, "retry", 60),
        (202, "retry", 60),
        (400, "retry", 60),
        (404, "retry", 60),
        (500, "retry", 60),
        (503, "retry", 60),
        (301, "terminated", None),
        (302, "terminated", None),
        (307, "terminated", None),
        (401, "terminated", None),
        (403, "terminated", None),
        (httpx.ReadTimeout, "retry", 60),
        (httpx.ConnectError, "retry", 60),
    ],
)
async def test_retry_semantics(
    state: CoinGateState,
    api: httpx.AsyncClient,
    notifier: Notifier,
    receiver: Receiver,
    answer: int | type[httpx.TransportError],
    outcome: str,
    retry_in: int | None,
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    receiver.answers.append(answer)
    attempt = await notifier.deliver_next()
    assert attempt is not None
    assert (attempt.outcome, attempt.retry_in) == (outcome, retry_in)
    assert attempt.would_retry is (outcome == "retry")
    assert attempt.http_status == (answer if isinstance(answer, int) else None)
    assert (attempt.error is None) is isinstance(answer, int)
    callback = state.callbacks[attempt.callback_id]
    assert callback.state == ("queued" if outcome == "retry" else outcome)
    assert (callback.id in state.queue) is (outcome == "retry")


async def test_transport_failures_name_the_error(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    receiver.answers.extend([httpx.ReadTimeout, httpx.ConnectError])
    first, second = [await notifier.deliver_next() for _ in range(2)]
    assert first is not None and second is not None
    assert (first.error, second.error) == ("timeout", "ConnectError")
    assert (first.attempt, second.attempt) == (1, 2)


def test_retry_schedule() -> None:
    delays = [retry_delay(n) for n in range(1, MAX_RETRIES + 2)]
    bands = [60, 300, 600, 1200, 1800, 3600, 5 * 3600, 86400]
    assert delays == [delay for delay in bands for _ in range(5)] + [None]
    assert sum(d for d in delays if d) / 86400 == pytest.approx(6.5, abs=0.05)  # CoinGate: ~6.5
    assert delivery_outcome(500, 40) == ("retry", 86400)
    assert delivery_outcome(500, 41) == ("gave_up", None)
    assert delivery_outcome(200, 41) == ("delivered", None)


async def test_gives_up_after_40_retries(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    receiver.answers.extend([500] * 50)
    attempts = await notifier.deliver_until_settled(max_rounds=60)
    assert len(attempts) == 1 + MAX_RETRIES
    assert [a.attempt for a in attempts] == list(range(1, 42))
    assert attempts[-1].outcome == "gave_up" and not attempts[-1].would_retry
    assert state.callbacks[attempts[0].callback_id].state == "gave_up"
    assert state.queue == deque()


async def test_a_failed_callback_is_overtaken_by_later_ones(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    await paid_order(state, api)
    receiver.answers.append(503)
    await notifier.deliver_until_settled()
    assert receiver.statuses() == ["pending", "confirming", "paid", "pending"]
    assert [a.outcome for a in state.attempts] == ["retry", "delivered", "delivered", "delivered"]


async def test_redeliver_resends_the_same_body_without_requeueing(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    await paid_order(state, api)
    await notifier.deliver_all()
    paid = next(c for c in state.callbacks.values() if c.status == "paid")
    receiver.answers.append(500)
    attempt = await notifier.redeliver(paid.id)
    assert (attempt.manual, attempt.outcome, attempt.attempt) == (True, "retry", 2)
    assert receiver.requests[-1].content == receiver.requests[2].content
    assert state.queue == deque()
    assert paid.state == "delivered"
    with pytest.raises(errors.NotFound):
        await notifier.redeliver(999)


async def test_reorder_delivers_paid_before_confirming(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    await paid_order(state, api)
    pending, confirming, paid = list(state.queue)
    notifier.reorder([paid, pending, confirming])
    await notifier.deliver_all()
    assert receiver.statuses() == ["paid", "pending", "confirming"]
    with pytest.raises(errors.Conflict):
        notifier.reorder([paid])


async def test_drop_loses_a_callback(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    await paid_order(state, api)
    paid = state.queue[-1]
    assert notifier.drop(paid).state == "dropped"
    await notifier.deliver_all()
    assert receiver.statuses() == ["pending", "confirming"]
    assert notifier.callback(paid).state == "dropped"
    with pytest.raises(errors.Conflict):
        notifier.drop(paid)
    with pytest.raises(errors.NotFound):
        notifier.drop(999)
    with pytest.raises(errors.NotFound):
        notifier.callback(999)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://localhost:8000/cb", "private network"),
        ("http://127.0.0.1/cb", "private network"),
        ("https://10.1.2.3/cb", "private network"),
        ("http://shop.onion/cb", "TOR network"),
    ],
)
async def test_private_networks_are_refused_when_modelled(
    state: CoinGateState,
    api: httpx.AsyncClient,
    notifier: Notifier,
    receiver: Receiver,
    url: str,
    error: str,
) -> None:
    state.refuse_private_networks = True
    order_id = (await create(api, callback_url=url))["id"]
    state.choose_currency(order_id)
    attempt = await notifier.deliver_next()
    assert attempt is not None
    assert (attempt.outcome, attempt.error, attempt.http_status) == ("terminated", error, None)
    assert receiver.requests == []


async def test_public_urls_pass_the_private_network_check(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    state.refuse_private_networks = True
    order_id = (await create(api, callback_url="https://93.184.215.14/cb"))["id"]
    state.choose_currency(order_id)
    await notifier.deliver_all()
    assert len(receiver.requests) == 1


async def test_a_notifier_without_client_opens_one_per_attempt(
    state: CoinGateState, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    notifier = Notifier(state, transport=httpx.MockTransport(receiver.handler))
    attempts = await notifier.deliver_all()
    assert [a.outcome for a in attempts] == ["delivered"]


def test_form_encoding_follows_rails_to_query() -> None:
    body, content_type = encode_callback(
        {"id": 1, "pay_currency": None, "ok": False, "fees": [{"currency": {"symbol": "EUR"}}]},
        "form",
    )
    assert content_type == "application/x-www-form-urlencoded"
    assert body == b"id=1&pay_currency=&ok=false&fees%5B%5D%5Bcurrency%5D%5Bsymbol%5D=EUR"


# --- inspection, steering over HTTP, faults ---------------------------------------------


async def test_sim_state_masks_tokens(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier
) -> None:
    await paid_order(state, api)
    await notifier.deliver_next()
    dump = (await api.get(f"{SIM}/state", headers={"Authorization": ""})).json()
    assert [o["status"] for o in dump["orders"]] == ["paid"]
    assert dump["orders"][0]["callback_url"] == CALLBACK_URL
    assert [c["state"] for c in dump["callbacks"]] == ["delivered", "queued", "queued"]
    assert dump["attempts"][0]["outcome"] == "delivered"
    assert dump["queue"] == [2, 3]
    assert TOKEN not in json.dumps(dump)
    assert dump["requests"] == 1


async def test_steering_over_http(state: CoinGateState, api: httpx.AsyncClient) -> None:
    order_id = (await create(api))["id"]
    sim = f"{SIM}/orders/{order_id}"
    chose = await api.post(f"{sim}/choose_currency", json={"pay_currency": "ETH"})
    assert chose.json()["pay_currency"] == "ETH"
    assert (await api.post(f"{sim}/underpay", json={"fraction": 0.5})).status_code == 200
    assert (await api.post(f"{sim}/accept_underpaid")).json()["status"] == "paid"
    assert (await api.post(f"{sim}/refund", json={"amount": "1.00"})).json()["status"] == (
        "partially_refunded"
    )
    conflict = await api.post(f"{sim}/cancel")
    assert (conflict.status_code, conflict.json()["reason"]) == (409, "Conflict")
    assert (await api.post(f"{SIM}/orders/999/pay")).status_code == 404
    assert (await api.post(f"{sim}/explode")).status_code == 404
    assert (await api.post(f"{sim}/pay", content=b"[1]")).status_code == 400
    assert (await api.post(f"{sim}/pay", content=b"{nope")).status_code == 400
    assert (await api.post(f"{SIM}/callbacks/deliver")).status_code == 404


async def test_deliver_endpoint_uses_the_notifier(state: CoinGateState, receiver: Receiver) -> None:
    notifier = Notifier(state, transport=httpx.MockTransport(receiver.handler))
    app = create_app(state, notifier)
    async with asgi_client(app, API, headers={"Authorization": "Token tok"}) as api:
        order_id = (await create(api))["id"]
        await api.post(f"{SIM}/orders/{order_id}/confirm")
        response = await api.post(f"{SIM}/callbacks/deliver")
    assert response.json() == {"attempts": 2, "queued": 0}
    assert receiver.statuses() == ["pending", "paid"]


async def test_forced_faults_use_coingates_error_shape(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(1, 503)
    state.faults.fail_next(1, 429)
    first, second = [await api.get("orders/1") for _ in range(2)]
    assert (first.status_code, first.json()) == (
        503,
        {"message": "Service unavailable", "reason": "ServiceUnavailable"},
    )
    assert (second.status_code, second.json()["reason"]) == (429, "RateLimitException")
    state.faults.fail_next(1, 418)
    assert (await api.get("orders/1")).json() == {"message": "Error", "reason": "Error"}
    state.faults.fail_next(1, "timeout")
    assert (await api.post("orders", data=BODY)).status_code == 200  # slow, then processed
    assert len(state.orders) == 1
    assert state.requests == 4


async def test_crash_after_create_leaves_the_order_behind(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    state.faults.crash_next_create()
    crashed = await api.post("orders", data=BODY)
    assert (crashed.status_code, crashed.json()["reason"]) == (503, "ServiceUnavailable")
    assert len(state.orders) == 1
    await create(api)  # CoinGate has no uniqueness on order_id: a retry makes a second order
    assert [o["order_id"] for o in state.orders.values()] == ["42", "42"]
    state.faults.crash_after_create = True
    assert (await api.post("orders", data=BODY)).status_code == 503
    assert len(state.orders) == 3


def test_random_faults_are_seeded() -> None:
    def faults(seed: int) -> list[int | str | None]:
        state = CoinGateState(faults=Faults(seed=seed, fail_rate=0.5))
        return [state.faults.next_fault() for _ in range(60)]

    assert faults(3) == faults(3)
    assert {500, 503, "timeout", None} <= set(faults(3))


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"[1]", "application/json"), (b"{nope", "application/json"), (b"\xff", "text/plain")],
)
async def test_unreadable_create_bodies_are_blank(
    api: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await api.post("orders", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert "Price amount can't be blank" in response.json()["errors"]


async def test_infinite_price_is_not_a_number(api: httpx.AsyncClient) -> None:
    response = await api.post("orders", data={**BODY, "price_amount": "Infinity"})
    assert response.json()["errors"] == ["Price amount is not a number"]


async def test_do_not_convert_settles_in_the_pay_currency(
    state: CoinGateState, api: httpx.AsyncClient
) -> None:
    order = await create(api, receive_currency="do_not_convert")
    assert (order["receive_currency"], order["do_not_convert"]) == ("DO_NOT_CONVERT", True)
    state.choose_currency(order["id"], "LTC")
    paid = state.confirm(order["id"])
    assert paid["fees"][0]["currency"] == {"symbol": "LTC"}
    assert coingate_events.classify(paid, sandbox=True).kind == "paid"


async def test_host_names_pass_the_private_network_check(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    state.refuse_private_networks = True
    await paid_order(state, api)
    await notifier.deliver_all()
    assert len(receiver.requests) == 3


async def test_rounds_are_bounded(
    state: CoinGateState, api: httpx.AsyncClient, notifier: Notifier, receiver: Receiver
) -> None:
    order_id = (await create(api))["id"]
    state.choose_currency(order_id)
    receiver.answers.extend([500] * 5)
    attempts = await notifier.deliver_until_settled(max_rounds=2)
    assert [a.outcome for a in attempts] == ["retry", "retry"]
    assert len(state.queue) == 1


def test_main_serves_the_configured_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    coingate_sim.main(["--port", "9998", "--token", "T", "--live", "--callback-format", "json"])
    assert (served["port"], served["host"]) == (9998, "127.0.0.1")


# --- lists, checkout, refunds and unknown routes ------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["per_page=0", "per_page=101", "page=0", "page=x", "sort=id", "created_at[from]=yesterday"],
)
async def test_list_parameters_are_checked(api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"orders?{query}")
    assert (response.status_code, response.json()["reason"]) == (400, "BadRequest")


async def test_checkout_and_refund_refusals(state: CoinGateState, api: httpx.AsyncClient) -> None:
    order = await create(api)
    blank = await api.post(f"orders/{order['id']}/checkout", data={})
    assert blank.json()["errors"] == ["Pay currency can't be blank"]
    for path in ("orders/999/checkout", "orders/999/refunds"):
        missing = await api.post(path, data={"pay_currency": "BTC", **REFUND_BODY})
        assert (missing.status_code, missing.json()["reason"]) == (404, "OrderNotFound")
    for path in ("orders/999/refunds", "orders/999/refunds/1"):
        missing = await api.get(path)
        assert (missing.status_code, missing.json()["reason"]) == (404, "OrderNotFound")
    no_refund = await api.get(f"orders/{order['id']}/refunds/1")
    assert (no_refund.status_code, no_refund.json()["reason"]) == (404, "RefundNotFound")
    state.confirm(order["id"])
    too_much = await api.post(
        f"orders/{order['id']}/refunds", data={**REFUND_BODY, "amount": "100"}
    )
    assert too_much.status_code == 422
    not_a_number = await api.post(
        f"orders/{order['id']}/refunds", data={**REFUND_BODY, "amount": "ten"}
    )
    assert not_a_number.json()["errors"] == ["Amount is not a number"]
    assert state.orders[order["id"]]["refunds"] == []


async def test_title_is_null_when_not_sent(api: httpx.AsyncClient) -> None:
    response = await api.post("orders", json={"price_amount": "5", "price_currency": "EUR"})
    assert (response.status_code, response.json()["title"]) == (200, None)


@pytest.mark.parametrize(("method", "path"), [("GET", "nothing"), ("DELETE", "orders")])
async def test_unknown_routes_use_coingates_shape(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await api.request(method, path)
    assert (response.status_code, response.json()) == (
        404,
        {"message": "Page not found", "reason": "PageNotFound"},
    )
