# mypy: allow-untyped-calls
"""The Mollie simulator, driven by Mollie's own Python client (``mollie-api-python``).

Every call `billing.gateways.mollie.api.MollieApi` makes (create a payment with an idempotency key,
fetch it with refunds and chargebacks embedded) and the calls an operator makes most (list
payments page by page, create, read, list and cancel refunds, read chargebacks) go through
the official client against the simulator on a real socket. Failures must surface as the
client's own error classes, which it only raises for Mollie's HAL error bodies. (The client
is only partly typed, hence the mypy line above.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mollie.api.client import Client
from mollie.api.error import (
    BadRequestError,
    NotFoundError,
    ResponseError,
    UnauthorizedError,
    UnprocessableEntityError,
)

from fluxbilling.billing.gateways.mollie import checkout as mollie_body
from fluxbilling_simulators.mollie import MollieNotifier, MollieState, create_app
from tests.integration.conformance import serving

KEY = "test_conformanceconformanceconform"
LIVE_KEY = "live_conformanceconformanceconform"
# The body our checkout sends (`billing.gateways.mollie.checkout.checkout_request`), for a 10.00 EUR invoice.
BODY = mollie_body.checkout_request(
    42, 1000, "eur", "Invoice 42", "https://shop.test/return/42", "https://shop.test/hook"
)


class Hooks:
    """Where the notifier's webhook calls land: every form body received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        return httpx.Response(200)


@pytest.fixture
def state() -> MollieState:
    return MollieState(seed=3)


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def url(state: MollieState, hooks: Hooks) -> Iterator[str]:
    notifier = MollieNotifier(state, httpx.AsyncClient(transport=httpx.MockTransport(hooks.handle)))
    with serving(create_app(state, notifier)) as base:
        yield base


def client(url: str, key: str = KEY) -> Client:
    mollie = Client(api_endpoint=url, retry=0)
    mollie.set_api_key(key)
    return mollie


def paid(mollie: Client, state: MollieState, value: str = "10.00") -> Any:
    """A payment created through the client and paid at the (simulated) checkout."""
    payment = mollie.payments.create({**BODY, "amount": {"currency": "EUR", "value": value}})
    state.pay(payment.id)
    return mollie.payments.get(payment.id)


def test_our_calls_create_with_an_idempotency_key_and_fetch_with_embeds(
    url: str, state: MollieState
) -> None:
    mollie = client(url)
    payment = mollie.payments.create(BODY, idempotency_key="invoice-42-attempt-1")
    assert payment.is_open()
    assert payment.checkout_url.startswith(f"{url}/checkout/")
    assert payment.metadata == {"invoice_id": "42"}
    again = mollie.payments.create(BODY, idempotency_key="invoice-42-attempt-1")
    assert again.id == payment.id
    assert len(state.payments) == 1

    state.pay(payment.id)
    refund = state.refund(payment.id, 300)
    chargeback = state.chargeback(payment.id, 200)
    fetched = mollie.payments.get(payment.id, embed="refunds,chargebacks")
    assert fetched.is_paid()
    assert fetched.amount_refunded == {"value": "3.00", "currency": "EUR"}
    assert fetched.amount_remaining == {"value": "5.00", "currency": "EUR"}
    assert fetched["amountChargedBack"] == {"value": "2.00", "currency": "EUR"}
    assert [r["id"] for r in fetched.get_embedded("refunds")] == [refund["id"]]
    assert [c["id"] for c in fetched.get_embedded("chargebacks")] == [chargeback["id"]]
    assert fetched.has_refunds()
    assert fetched.has_chargebacks()


def test_payments_are_listed_newest_first_page_by_page_in_the_key_mode(
    url: str, state: MollieState
) -> None:
    mollie = client(url)
    created = [mollie.payments.create(BODY).id for _ in range(5)]
    client(url, LIVE_KEY).payments.create(BODY)  # another mode: never listed

    first = mollie.payments.list(limit=2)
    assert [p.id for p in first] == created[:2:-1][:2]
    assert first.count == 2
    assert first.has_next()
    assert not first.has_previous()
    second = first.get_next()
    assert [p.id for p in second] == [created[2], created[1]]
    last = second.get_next()
    assert [p.id for p in last] == [created[0]]
    assert not last.has_next()
    assert [p.id for p in last.get_previous()] == [created[2], created[1]]
    everything = mollie.payments.list()
    assert [p.id for p in everything] == created[::-1]
    assert not everything.has_next()

    state.pay(created[0])
    state.refund(created[0], 100)
    embedded = mollie.payments.list(limit=1, **{"from": created[0], "embed": "refunds"})
    assert embedded[0].get_embedded("refunds")[0]["amount"]["value"] == "1.00"


def test_a_refund_is_created_read_listed_and_canceled(
    url: str, state: MollieState, hooks: Hooks
) -> None:
    mollie = client(url)
    payment = paid(mollie, state)
    assert payment.can_be_refunded()

    refund = payment.refunds.create(
        {
            "amount": {"currency": "EUR", "value": "4.00"},
            "description": "Goodwill",
            "metadata": {"ticket": 7},
        }
    )
    assert refund.id.startswith("re_")
    assert refund.status == "pending"
    assert refund.payment_id == payment.id
    assert refund.amount == {"currency": "EUR", "value": "4.00"}
    assert refund.metadata == {"ticket": 7}
    assert refund.get_payment().amount_remaining == {"value": "6.00", "currency": "EUR"}

    read = payment.refunds.get(refund.id)
    assert (read.id, read.description) == (refund.id, "Goodwill")
    second = payment.refunds.create({"amount": {"currency": "EUR", "value": "1.50"}})
    assert [r.id for r in payment.refunds.list()] == [second.id, refund.id]
    assert [r.id for r in mollie.refunds.list()] == [second.id, refund.id]
    assert [r.id for r in mollie.refunds.list(limit=1).get_next()] == [refund.id]

    payment.refunds.delete(second.id)
    assert payment.refunds.get(second.id).status == "canceled"
    current = mollie.payments.get(payment.id)
    assert current.amount_refunded == {"value": "4.00", "currency": "EUR"}
    # Mollie calls the payment's webhook with the payment id for each refund change.
    deadline = time.monotonic() + 5
    while len(hooks.bodies) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hooks.bodies[-3:] == [f"id={payment.id}".encode()] * 3


def test_a_refund_that_cannot_be_made_raises_the_clients_422(url: str, state: MollieState) -> None:
    mollie = client(url)
    payment = paid(mollie, state)
    with pytest.raises(UnprocessableEntityError) as too_much:
        payment.refunds.create({"amount": {"currency": "EUR", "value": "10.01"}})
    assert (too_much.value.status, too_much.value.field) == (422, "amount")
    with pytest.raises(UnprocessableEntityError) as currency:
        payment.refunds.create({"amount": {"currency": "USD", "value": "1.00"}})
    assert currency.value.field == "amount.currency"
    with pytest.raises(UnprocessableEntityError):
        payment.refunds.create({"amount": {"currency": "EUR", "value": "1"}})

    unpaid = mollie.payments.create(BODY)
    with pytest.raises(UnprocessableEntityError):
        unpaid.refunds.create({"amount": {"currency": "EUR", "value": "1.00"}})
    refund = payment.refunds.create({"amount": {"currency": "EUR", "value": "1.00"}})
    state.set_refund_status(refund.id, "refunded")
    with pytest.raises(UnprocessableEntityError):
        payment.refunds.delete(refund.id)
    assert state.refunds[payment.id][0]["status"] == "refunded"


def test_chargebacks_are_read_and_listed(url: str, state: MollieState) -> None:
    mollie = client(url)
    payment = paid(mollie, state)
    chargeback = state.chargeback(payment.id)
    assert [c.id for c in payment.chargebacks.list()] == [chargeback["id"]]
    read = payment.chargebacks.get(chargeback["id"])
    assert read.amount == {"value": "10.00", "currency": "EUR"}
    assert [c.id for c in mollie.chargebacks.list()] == [chargeback["id"]]
    assert list(client(url, LIVE_KEY).chargebacks.list()) == []


def test_failures_raise_the_clients_own_errors(url: str, state: MollieState) -> None:
    mollie = client(url)
    with pytest.raises(NotFoundError) as missing:
        mollie.payments.get("tr_doesnotexist")
    assert missing.value.status == 404
    live = client(url, LIVE_KEY).payments.create(BODY)
    with pytest.raises(NotFoundError):
        mollie.payments.get(live.id)  # the other mode
    payment = paid(mollie, state)
    with pytest.raises(NotFoundError):
        payment.refunds.get("re_doesnotexist")
    with pytest.raises(NotFoundError):
        payment.chargebacks.get("chb_nothere")
    with pytest.raises(BadRequestError) as limit:
        mollie.payments.list(limit=251)
    assert limit.value.field == "limit"
    with pytest.raises(BadRequestError):
        mollie.payments.list(**{"from": "tr_doesnotexist"})


def test_a_wrong_key_is_the_clients_401(url: str, state: MollieState) -> None:
    state.api_keys = frozenset({KEY})
    with pytest.raises(UnauthorizedError) as denied:
        client(url, "test_anotherkeyofthesamemode").payments.list()
    assert denied.value.status == 401
    assert client(url).payments.list().count == 0


def test_unmodelled_routes_answer_mollies_404_not_plain_text(url: str, state: MollieState) -> None:
    mollie = client(url)
    payment = mollie.payments.create(BODY)
    for call in (
        lambda: mollie.methods.list(),
        lambda: mollie.payments.update(payment.id, {"description": "renamed"}),
        lambda: mollie.customers.get("cst_8wmqcHMN4U"),
    ):
        with pytest.raises(ResponseError) as unmodelled:
            call()
        assert unmodelled.value.status == 404
        assert "does not model" in str(unmodelled.value)
    assert mollie.payments.get(payment.id).description == "Invoice 42"
