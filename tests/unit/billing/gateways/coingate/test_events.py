"""CoinGate fetched orders as facts: `gateways.coingate.events`."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import events as coingate_events

# --- classify -------------------------------------------------------------------------


def order(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 535,
        "status": "paid",
        "order_id": "42",
        "price_currency": "EUR",
        "price_amount": "100.0",
        "pay_currency": "BTC",
        "pay_amount": "0.00489886",
        "receive_currency": "USDT",
        "receive_amount": "99.758162",
        "underpaid_amount": "0",
        "overpaid_amount": "0",
        "refunds": [],
    }
    data.update(changes)
    return data


def refund(request_amount: str, status: str = "completed", id_: int = 8) -> dict[str, Any]:
    return {"id": id_, "request_amount": request_amount, "status": status}


@pytest.mark.parametrize(
    ("changes", "kind", "amount"),
    [
        ({"status": "new", "pay_currency": None, "pay_amount": None}, "pending", 10000),
        ({"status": "pending", "underpaid_amount": "0.00489886"}, "pending", 10000),
        ({"status": "confirming"}, "pending", 10000),
        ({"status": "paid"}, "paid", 10000),
        ({"status": "paid", "overpaid_amount": "0.001"}, "paid", 10000),
        ({"status": "invalid"}, "failed", 10000),
        ({"status": "expired", "underpaid_amount": "0.00489886"}, "failed", 10000),
        ({"status": "canceled", "pay_amount": None, "underpaid_amount": "0"}, "failed", 10000),
        ({"status": "what-is-this"}, "ignored", 10000),
    ],
)
def test_status_mapping(changes: dict[str, Any], kind: str, amount: int) -> None:
    fact = coingate_events.classify(order(**changes), sandbox=False)
    assert (fact.kind, fact.amount_minor, fact.currency) == (kind, amount, "EUR")
    assert (fact.gateway_payment_id, fact.invoice_ref, fact.gateway_object_id) == (
        "535",
        "42",
        "535",
    )
    assert fact.livemode is True


def test_paid_with_an_underpayment_is_underpaid_with_what_arrived() -> None:
    # A quarter of the crypto is missing: about 75.00 EUR of 100.00 arrived (rounded down).
    fact = coingate_events.classify(order(underpaid_amount="0.00122472"), sandbox=True)
    assert fact.kind == "underpaid"
    assert fact.amount_minor == 7499
    assert fact.livemode is False


def test_expired_after_a_partial_payment_is_underpaid() -> None:
    fact = coingate_events.classify(
        order(status="expired", pay_amount="0.002", underpaid_amount="0.0005"), sandbox=True
    )
    assert (fact.kind, fact.amount_minor) == ("underpaid", 7500)


def test_underpaid_without_a_pay_amount_arrived_estimate_is_zero() -> None:
    fact = coingate_events.classify(order(pay_amount=None, underpaid_amount="0.1"), sandbox=True)
    assert (fact.kind, fact.amount_minor) == ("underpaid", 0)


def test_expired_after_paid_gives_a_failed_fact_for_the_same_invoice() -> None:
    # The invoice is paid through one CoinGate order; another order for it expires later.
    paid = coingate_events.classify(order(id=600), sandbox=True)
    expired = coingate_events.classify(
        order(id=601, status="expired", underpaid_amount="0.00489886"), sandbox=True
    )
    assert (paid.kind, expired.kind) == ("paid", "failed")
    assert paid.invoice_ref == expired.invoice_ref == "42"
    assert paid.gateway_payment_id != expired.gateway_payment_id
    # The same order fetched twice gives the same fact (deliveries dedupe on it).
    assert coingate_events.classify(order(id=600), sandbox=True) == paid


def test_refunds_are_cumulative_completed_request_amounts() -> None:
    partial = order(status="partially_refunded", refunds=[refund("10.0"), refund("5", "pending")])
    fact = coingate_events.classify(partial, sandbox=False)
    assert (fact.kind, fact.amount_minor, fact.gateway_object_id) == ("refund", 1000, "535:refunds")
    full = order(status="refunded", refunds=[refund("10.0"), refund("90.00", id_=9)])
    assert coingate_events.classify(full, sandbox=False).amount_minor == 10000


def test_refunded_without_listed_refunds_counts_in_full() -> None:
    fact = coingate_events.classify(order(status="refunded", refunds=None), sandbox=False)
    assert (fact.kind, fact.amount_minor) == ("refund", 10000)


def test_jpy_and_empty_order_id() -> None:
    fact = coingate_events.classify(
        order(price_currency="jpy", price_amount="1500.0", order_id=""), sandbox=True
    )
    assert (fact.amount_minor, fact.currency, fact.invoice_ref) == (1500, "JPY", None)


def test_a_btc_priced_order_is_refused() -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate_events.classify(order(price_currency="BTC", price_amount="0.0049"), sandbox=True)
    assert info.value.details == {"field": "price_currency"}


def test_parse_order_reads_the_money_fields() -> None:
    parsed = coingate_events.parse_order(order(receive_currency="do_not_convert", order_id=42))
    assert parsed.order_id == "42"
    assert parsed.receive_currency == "DO_NOT_CONVERT"
    assert parsed.pay_currency == "BTC"
    assert str(parsed.pay_amount) == "0.00489886"
    assert parsed.refunded_minor == 0
    bare = coingate_events.parse_order(
        order(receive_currency="", pay_currency=None, pay_amount=None)
    )
    assert (bare.receive_currency, bare.pay_currency, bare.pay_amount) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None}, "id"),
        ({"id": "535"}, "id"),
        ({"id": True}, "id"),
        ({"id": 0}, "id"),
        ({"status": None}, "status"),
        ({"price_currency": None}, "price_currency"),
        ({"price_amount": None}, "price_amount"),
        ({"price_amount": 100.0}, "price_amount"),
        ({"price_amount": "100.001"}, "price_amount"),
        ({"underpaid_amount": "lots"}, "underpaid_amount"),
        ({"pay_amount": []}, "pay_amount"),
        ({"receive_currency": 5.0}, "receive_currency"),
        ({"status": "refunded", "refunds": "none"}, "refunds"),
        ({"status": "refunded", "refunds": ["x"]}, "refunds[0]"),
        ({"status": "refunded", "refunds": [{"status": "completed"}]}, "refunds[0].request_amount"),
        ({"status": "refunded", "refunds": [refund("1.001")]}, "refunds[0].request_amount"),
    ],
)
def test_classify_names_a_bad_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate_events.classify(order(**changes), sandbox=True)
    assert info.value.details == {"field": field}
