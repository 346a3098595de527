"""The CoinGate gateway against the simulator (in-process, over httpx.ASGITransport)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.gateway import Attempt, Checkout, CheckoutRequest, Verified
from fluxbilling.billing.gateways.coingate import CoinGateGateway, connect
from fluxbilling.billing.gateways.coingate import api as coingate_api
from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout
from fluxbilling.billing.gateways.coingate import verify as coingate_verify
from fluxbilling_simulators._coingate_state import encode_callback
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.coingate import CoinGateState, Notifier, create_app

pytestmark = pytest.mark.anyio

API_TOKEN = "cg-sandbox-api-token"
SECRET = "installation-token-secret"
REQUEST = CheckoutRequest(
    invoice_id=42,
    attempt=1,
    amount_minor=1999,
    currency="EUR",
    description="VPS order 7",
    success_url="https://billing.example/invoices/42",
    cancel_url="https://billing.example/invoices/42?canceled=1",
    webhook_url="https://billing.example/webhooks/coingate",
)


class Attempts:
    """The `AttemptLookup` over a dict, recording what was looked up."""

    def __init__(self) -> None:
        self.known: dict[str, Attempt] = {}
        self.lookups: list[str] = []

    async def __call__(self, gateway_ref: str) -> Attempt | None:
        self.lookups.append(gateway_ref)
        return self.known.get(gateway_ref)

    def store(self, checkout: Checkout, invoice_id: int = 42) -> None:
        self.known[checkout.gateway_ref] = Attempt(
            invoice_id, "coingate", checkout.gateway_ref, checkout.callback_token_hash
        )


@pytest.fixture
def state() -> CoinGateState:
    return CoinGateState(api_token=API_TOKEN, faults=Faults(timeout_delay=0.01))


@pytest.fixture
async def gateway(state: CoinGateState) -> AsyncIterator[CoinGateGateway]:
    adapter = connect(
        API_TOKEN,
        sandbox=True,
        token_secret=SECRET,
        transport=httpx.ASGITransport(app=create_app(state)),
    )
    yield adapter
    await adapter.aclose()


@pytest.fixture
def attempts() -> Attempts:
    return Attempts()


async def checkout(gateway: CoinGateGateway, attempts: Attempts, invoice_id: int = 42) -> int:
    """Create an order through the gateway, store its attempt, return CoinGate's id."""
    created = await gateway.create_checkout(REQUEST)
    attempts.store(created, invoice_id)
    return int(created.gateway_ref)


async def deliver(state: CoinGateState, fmt: str = "form") -> list[httpx.Request]:
    """Every queued callback, as the simulator's notifier POSTs it."""
    state.callback_format = fmt
    received: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    await Notifier(state, transport=httpx.MockTransport(endpoint)).deliver_all()
    return received


def forged(state: CoinGateState, order_id: int, fmt: str = "form", **changes: Any) -> httpx.Request:
    """A callback for `order_id` built like the notifier's, with fields changed."""
    fields = {**state.callback_fields(state.order(order_id)), **changes}
    body, content_type = encode_callback(fields, fmt)
    return httpx.Request(
        "POST", REQUEST.webhook_url, content=body, headers={"Content-Type": content_type}
    )


async def verify(gateway: CoinGateGateway, attempts: Attempts, request: httpx.Request) -> Verified:
    return await gateway.verify(
        request.content, dict(request.headers), now=1_700_000_000.0, attempts=attempts
    )


# ---------------------------------------------------------------------------------------
# Checkout


async def test_checkout_sends_our_token_and_returns_only_its_hash(
    state: CoinGateState, gateway: CoinGateGateway
) -> None:
    created = await gateway.create_checkout(REQUEST)
    order = state.orders[int(created.gateway_ref)]
    token = order["_token"]
    assert created.redirect_url == order["payment_url"]
    assert created.callback_token_hash == coingate_verify.hash_token(token, SECRET)
    assert token not in repr(created)
    assert (order["order_id"], order["price_amount"], order["price_currency"]) == (
        "42",
        "19.99",
        "EUR",
    )
    assert order["title"] == "FluxBilling invoice 42"
    assert order["_description"] == "VPS order 7"
    assert order["_callback_url"] == REQUEST.webhook_url
    assert (order["_success_url"], order["_cancel_url"]) == (
        REQUEST.success_url,
        REQUEST.cancel_url,
    )


async def test_every_checkout_gets_a_fresh_token(
    state: CoinGateState, gateway: CoinGateGateway
) -> None:
    first = await gateway.create_checkout(REQUEST)
    second = await gateway.create_checkout(REQUEST)
    assert first.gateway_ref != second.gateway_ref
    assert first.callback_token_hash != second.callback_token_hash
    assert len({o["_token"] for o in state.orders.values()}) == 2


async def test_a_retried_create_makes_a_second_order(
    state: CoinGateState, gateway: CoinGateGateway
) -> None:
    """CoinGate has no idempotency key: the caller stores every created order as an attempt."""
    state.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await gateway.create_checkout(REQUEST)
    created = await gateway.create_checkout(REQUEST)
    assert len(state.orders) == 2
    assert int(created.gateway_ref) == max(state.orders)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"currency": "BTC"}, errors.InvariantViolation),
        ({"amount_minor": 0}, errors.InvariantViolation),
        ({"webhook_url": "/webhooks/coingate"}, errors.InvalidSettings),
    ],
)
async def test_a_checkout_coingate_cannot_take_calls_nothing(
    state: CoinGateState,
    gateway: CoinGateGateway,
    changes: dict[str, Any],
    error: type[errors.FluxError],
) -> None:
    with pytest.raises(error):
        await gateway.create_checkout(dataclasses.replace(REQUEST, **changes))
    assert state.requests == 0


@pytest.mark.parametrize("echoed", ["theirs", "", None])
async def test_the_token_coingate_holds_is_the_one_hashed(echoed: str | None) -> None:
    """Callbacks carry the token CoinGate holds: the one it answers, else the one we sent."""
    sent: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(dict(parse_qsl(request.content.decode()))["token"])
        order = {"id": 7, "payment_url": "https://pay.example/7", "token": echoed}
        return httpx.Response(200, json=order)

    adapter = connect(
        API_TOKEN, sandbox=False, token_secret=SECRET, transport=httpx.MockTransport(api)
    )
    created = await adapter.create_checkout(REQUEST)
    await adapter.aclose()
    expected = coingate_verify.hash_token(echoed or sent[0], SECRET)
    assert created == Checkout("7", "https://pay.example/7", callback_token_hash=expected)
    assert sent[0] not in repr(created)
    assert adapter.livemode is True


@pytest.mark.parametrize(
    "answer",
    [
        {"payment_url": "https://pay.example/7"},
        {"id": True, "payment_url": "https://pay.example/7"},
        {"id": "7", "payment_url": "https://pay.example/7"},
        {"id": 7},
        {"id": 7, "payment_url": ""},
    ],
)
async def test_a_create_answer_without_id_or_url_is_permanent(answer: dict[str, Any]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    adapter = connect(API_TOKEN, sandbox=True, token_secret=SECRET, transport=transport)
    with pytest.raises(errors.PermanentUpstreamError, match="without an id or payment_url"):
        await adapter.create_checkout(REQUEST)
    await adapter.aclose()


# ---------------------------------------------------------------------------------------
# Callbacks


@pytest.mark.parametrize("fmt", ["form", "json"])
async def test_a_paid_callback_gives_the_paid_fact(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts, fmt: str
) -> None:
    order_id = await checkout(gateway, attempts)
    state.pay(order_id)
    state.confirm(order_id)
    received = await deliver(state, fmt)
    assert [r.headers["content-type"].split(";")[0] for r in received] == [
        "application/json" if fmt == "json" else "application/x-www-form-urlencoded"
    ] * 3
    verified = await verify(gateway, attempts, received[-1])
    assert (verified.event_type, verified.resource_id, verified.note) == ("paid", str(order_id), "")
    [fact] = verified.facts
    assert (fact.kind, fact.amount_minor, fact.currency, fact.invoice_ref) == (
        "paid",
        1999,
        "EUR",
        "42",
    )
    assert (fact.gateway_payment_id, fact.livemode) == (str(order_id), False)
    assert verified.event_id.startswith(f"{order_id}@")
    assert attempts.lookups == [str(order_id)]


async def test_repeated_callbacks_of_an_unchanged_order_share_the_event_id(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.pay(order_id)
    state.confirm(order_id)
    received = await deliver(state)
    # pending, confirming and paid: each re-fetches the order, which is paid by now.
    results = [await verify(gateway, attempts, r) for r in [*received, received[-1]]]
    assert len({v.event_id for v in results}) == 1
    assert {v.facts[0].kind for v in results} == {"paid"}


async def test_refunds_change_the_event_id(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.confirm(order_id)
    paid = await verify(gateway, attempts, (await deliver(state))[-1])
    state.refund(order_id, "5.00")
    partial = await verify(gateway, attempts, (await deliver(state))[-1])
    state.refund(order_id)
    full = await verify(gateway, attempts, (await deliver(state))[-1])
    assert len({paid.event_id, partial.event_id, full.event_id}) == 3
    assert [(v.event_type, v.facts[0].kind, v.facts[0].amount_minor) for v in (partial, full)] == [
        ("partially_refunded", "refund", 500),
        ("refunded", "refund", 1999),
    ]
    assert partial.facts[0].gateway_object_id == f"{order_id}:refunds"
    assert partial.facts[0].gateway_payment_id == str(order_id)


async def test_the_posted_status_is_ignored(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.choose_currency(order_id)
    request = forged(state, order_id, status="paid", underpaid_amount="0")
    verified = await verify(gateway, attempts, request)
    assert verified.event_type == "pending"
    assert [f.kind for f in verified.facts] == ["pending"]


async def test_an_underpaid_order_gives_the_underpaid_fact(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.underpay(order_id, "0.5")
    state.accept_underpaid(order_id)
    verified = await verify(gateway, attempts, (await deliver(state))[-1])
    [fact] = verified.facts
    assert (verified.event_type, fact.kind) == ("paid", "underpaid")
    assert 0 < fact.amount_minor < 1999


async def test_an_expired_order_gives_the_failed_fact(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.expire(order_id)
    verified = await verify(gateway, attempts, (await deliver(state))[-1])
    assert (verified.event_type, verified.facts[0].kind) == ("expired", "failed")


@pytest.mark.parametrize("token", ["wrong-token", ""])
async def test_a_wrong_or_missing_token_is_invalid_and_fetches_nothing(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts, token: str
) -> None:
    order_id = await checkout(gateway, attempts)
    state.confirm(order_id)
    before = state.requests
    with pytest.raises(errors.InvalidWebhook, match="callback token"):
        await verify(gateway, attempts, forged(state, order_id, token=token))
    assert state.requests == before


async def test_an_absent_token_field_is_invalid(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    fields = state.callback_fields(state.order(order_id))
    del fields["token"]
    body, content_type = encode_callback(fields, "json")
    with pytest.raises(errors.InvalidWebhook, match="missing callback token"):
        await gateway.verify(body, {"content-type": content_type}, now=0.0, attempts=attempts)


async def test_another_orders_token_is_invalid(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    ours = await checkout(gateway, attempts)
    other = await checkout(gateway, attempts)
    request = forged(state, ours, token=state.order(other)["_token"])
    with pytest.raises(errors.InvalidWebhook):
        await verify(gateway, attempts, request)


async def test_an_order_we_did_not_create_is_acknowledged_without_facts(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    created = state.create_order(
        coingate_checkout.order_request(
            7,
            1000,
            "EUR",
            REQUEST.webhook_url,
            REQUEST.success_url,
            REQUEST.cancel_url,
            "somebody-elses-token",
            "Not ours",
        )
    )
    before = state.requests
    verified = await verify(gateway, attempts, forged(state, created["id"], status="paid"))
    assert verified == Verified(
        "",
        "unknown",
        (),
        resource_id=str(created["id"]),
        note=f"CoinGate order {created['id']} was not created by us",
        authentic=False,
    )
    assert state.requests == before


async def test_an_order_coingate_does_not_know_has_no_facts(
    gateway: CoinGateGateway, attempts: Attempts
) -> None:
    token = coingate_verify.new_callback_token()
    attempts.known["555"] = Attempt(
        42, "coingate", "555", coingate_verify.hash_token(token, SECRET)
    )
    body = f"id=555&order_id=42&status=paid&token={token}".encode()
    verified = await gateway.verify(body, {}, now=0.0, attempts=attempts)
    assert (verified.facts, verified.event_id, verified.resource_id) == ((), "", "555")
    assert verified.note == "CoinGate order 555 was not found at CoinGate (sandbox)"


async def test_an_order_naming_another_invoice_is_not_applied(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts, invoice_id=43)
    state.confirm(order_id)
    verified = await verify(gateway, attempts, forged(state, order_id))
    assert (verified.facts, verified.event_type) == ((), "paid")
    assert "names invoice '42' but was created for invoice 43" in verified.note


async def test_an_answer_for_another_order_is_not_applied(
    state: CoinGateState, attempts: Attempts
) -> None:
    token = coingate_verify.new_callback_token()
    attempts.known["8"] = Attempt(42, "coingate", "8", coingate_verify.hash_token(token, SECRET))
    order = {"id": 9, "order_id": "42", "status": "paid", "price_amount": "19.99"}
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={**order, "price_currency": "EUR"})
    )
    adapter = connect(API_TOKEN, sandbox=True, token_secret=SECRET, transport=transport)
    body = f"id=8&order_id=42&status=paid&token={token}".encode()
    verified = await adapter.verify(body, {}, now=0.0, attempts=attempts)
    await adapter.aclose()
    assert verified.facts == ()
    assert verified.note == "CoinGate answered order 9 when asked for order 8"


async def test_an_attempt_without_a_token_hash_is_a_settings_problem(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    attempts.known[str(order_id)] = Attempt(42, "coingate", str(order_id))
    with pytest.raises(errors.InvalidSettings):
        await verify(gateway, attempts, forged(state, order_id))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not a form", "application/x-www-form-urlencoded"),
        (b"{", "application/json"),
        (b"id=1&status=paid", "text/plain"),
        (b"order_id=42&status=paid&token=t", "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_callbacks_are_invalid(
    gateway: CoinGateGateway, attempts: Attempts, body: bytes, content_type: str
) -> None:
    with pytest.raises(errors.InvalidWebhook):
        await gateway.verify(body, {"Content-Type": content_type}, now=0.0, attempts=attempts)
    assert attempts.lookups == []


@pytest.mark.parametrize("status", [500, 503])
async def test_a_failed_refetch_is_transient(
    state: CoinGateState,
    gateway: CoinGateGateway,
    attempts: Attempts,
    status: int,
) -> None:
    order_id = await checkout(gateway, attempts)
    state.confirm(order_id)
    state.faults.fail_next(1, status)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await verify(gateway, attempts, forged(state, order_id))
    assert info.value.status == status


async def test_secrets_never_reach_error_messages(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    state.confirm(order_id)
    token = state.order(order_id)["_token"]
    raised: list[errors.FluxError] = []
    state.faults.fail_next(1, 503)
    for request in (
        forged(state, order_id),
        forged(state, order_id, token=token + "x"),
        forged(state, order_id, token=token.upper()),
    ):
        with pytest.raises(errors.FluxError) as info:
            await verify(gateway, attempts, request)
        raised.append(info.value)
    wrong = connect(
        "wrong-api-token",
        sandbox=True,
        token_secret=SECRET,
        transport=httpx.ASGITransport(app=create_app(state)),
    )
    with pytest.raises(errors.PermanentUpstreamError) as refused:
        await verify(wrong, attempts, forged(state, order_id))
    with pytest.raises(errors.PermanentUpstreamError) as refused_create:
        await wrong.create_checkout(REQUEST)
    await wrong.aclose()
    raised += [refused.value, refused_create.value]
    assert [type(e) for e in raised] == [
        errors.TransientUpstreamError,
        errors.InvalidWebhook,
        errors.InvalidWebhook,
        errors.PermanentUpstreamError,
        errors.PermanentUpstreamError,
    ]
    for exc in raised:
        text = f"{exc} {exc.to_dict()} {exc.__cause__}"
        for secret in (API_TOKEN, "wrong-api-token", token, SECRET):
            assert secret not in text


# ---------------------------------------------------------------------------------------
# Fetch, settings


async def test_fetch_gives_the_current_fact(
    state: CoinGateState, gateway: CoinGateGateway, attempts: Attempts
) -> None:
    order_id = await checkout(gateway, attempts)
    pending = await gateway.fetch(str(order_id))
    assert pending is not None
    assert [f.kind for f in pending] == ["pending"]
    state.confirm(order_id)
    paid = await gateway.fetch(str(order_id))
    assert paid is not None
    assert [(f.kind, f.amount_minor, f.invoice_ref) for f in paid] == [("paid", 1999, "42")]
    assert await gateway.fetch("987654") is None


@pytest.mark.parametrize("ref", ["", "abc", "0", "-1", "١٢", "cg_12"])
async def test_fetch_refuses_what_is_not_an_order_id(
    state: CoinGateState, gateway: CoinGateGateway, ref: str
) -> None:
    with pytest.raises(errors.InvariantViolation):
        await gateway.fetch(ref)
    assert state.requests == 0


async def test_settings_are_required(state: CoinGateState) -> None:
    with pytest.raises(errors.InvalidSettings, match="token-hashing secret"):
        connect(API_TOKEN, sandbox=True, token_secret="")
    with pytest.raises(errors.InvalidSettings, match="API token"):
        connect("", sandbox=True, token_secret=SECRET)
    adapter = connect(
        API_TOKEN, sandbox=True, token_secret=SECRET, transport=httpx.MockTransport(lambda r: r)
    )
    with pytest.raises(errors.InvalidSettings):
        CoinGateGateway(adapter.api, sandbox=True, token_secret="")
    assert (adapter.name, adapter.livemode, adapter.title) == (
        "coingate",
        False,
        "FluxBilling invoice",
    )
    assert adapter.api.http.base_url == coingate_api.SANDBOX_API_URL
    await adapter.aclose()
