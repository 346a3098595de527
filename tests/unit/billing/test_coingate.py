"""CoinGate callback parsing, token checks, money, order classification and create bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from fluxbilling import errors
from fluxbilling.billing import coingate

FORM = "application/x-www-form-urlencoded"
TOKEN = "Jb0f2kY3s9Qx-token_ours"
CALLBACK = {
    "id": "343",
    "order_id": "42",
    "status": "paid",
    "price_amount": "1050.99",
    "price_currency": "USD",
    "receive_currency": "EUR",
    "receive_amount": "926.73",
    "pay_amount": "4.81849315",
    "pay_currency": "BTC",
    "underpaid_amount": "0",
    "overpaid_amount": "0",
    "is_refundable": "true",
    "created_at": "2014-11-03T13:07:28+00:00",
    "token": TOKEN,
}


def form(fields: dict[str, str], *extra: tuple[str, str]) -> bytes:
    return urlencode([*fields.items(), *extra]).encode()


def message(exc: pytest.ExceptionInfo[errors.FluxError]) -> str:
    return exc.value.message


# --- parse_callback ---------------------------------------------------------------------


def test_form_callback_as_coingate_sends_it() -> None:
    fees = [("fees[][type]", "processing_fee"), ("fees[][amount]", "1.0")]
    fees += [("fees[][type]", "conversion_fee"), ("fees[][currency][symbol]", "EUR")]
    callback = coingate.parse_callback(form(CALLBACK, *fees), FORM)
    assert (callback.id, callback.order_id, callback.status) == (343, "42", "paid")
    assert callback.token == TOKEN
    assert callback.fields["price_amount"] == "1050.99"
    assert callback.fields["is_refundable"] == "true"
    assert "token" not in callback.fields
    assert not any(key.startswith("fees") for key in callback.fields)
    assert TOKEN not in repr(callback)


def test_json_callback_keeps_amounts_exact() -> None:
    payload: dict[str, Any] = {**CALLBACK, "id": 343, "is_refundable": False}
    payload["fees"] = [{"type": "processing_fee", "amount": "1.0"}]
    payload["pay_amount"] = 4.81849315  # a JSON number must not go through float
    payload["receive_amount"] = None
    body = json.dumps(payload).encode()
    callback = coingate.parse_callback(body, "application/json; charset=utf-8")
    assert (callback.id, callback.token) == (343, TOKEN)
    assert callback.fields["pay_amount"] == "4.81849315"
    assert callback.fields["is_refundable"] == "false"
    assert "receive_amount" not in callback.fields
    assert "fees" not in callback.fields


@pytest.mark.parametrize(
    ("body", "expected"),
    [(form(CALLBACK), 343), (json.dumps({**CALLBACK, "id": 7}).encode(), 7)],
)
def test_without_content_type_the_body_is_sniffed(body: bytes, expected: int) -> None:
    assert coingate.parse_callback(body, None).id == expected


def test_a_callback_without_token_parses_and_fails_the_check() -> None:
    fields = {k: v for k, v in CALLBACK.items() if k != "token"}
    callback = coingate.parse_callback(form(fields), FORM)
    assert callback.token is None
    with pytest.raises(errors.InvalidWebhook, match="missing callback token"):
        coingate.check_token(callback.token, TOKEN)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (form(CALLBACK), "multipart/form-data; boundary=x", "unsupported content type"),
        (b"id=1&order_id", FORM, "malformed form body"),
        (b"id=%ff", FORM, "malformed form body"),
        (b"\xff\xfe", FORM, "malformed form body"),
        (form(CALLBACK, ("status", "paid")), FORM, "field 'status' is repeated"),
        (form({**CALLBACK, "id": ""}), FORM, "missing field 'id'"),
        (form({**CALLBACK, "id": "abc"}), FORM, "field 'id' is not a CoinGate order id"),
        (form({**CALLBACK, "id": "0"}), FORM, "field 'id' is not a CoinGate order id"),
        (form({**CALLBACK, "id": "-3"}), FORM, "field 'id' is not a CoinGate order id"),
        (form({k: v for k, v in CALLBACK.items() if k != "order_id"}), FORM, "'order_id'"),
        (form({**CALLBACK, "status": ""}), FORM, "missing field 'status'"),
        (b"[1, 2]", "application/json", "not an object"),
        (b"{nope", "application/json", "malformed JSON body"),
        (json.dumps({**CALLBACK, "id": True}).encode(), "application/json", "'id'"),
    ],
)
def test_parse_callback_names_what_is_wrong(body: bytes, content_type: str, expected: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate.parse_callback(body, content_type)
    assert expected in info.value.message
    assert TOKEN not in json.dumps(info.value.to_dict())


# --- tokens -----------------------------------------------------------------------------


def test_the_right_token_passes() -> None:
    coingate.check_token(TOKEN, TOKEN)


@pytest.mark.parametrize("received", [TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "é" * 23])
def test_a_wrong_token_is_rejected(received: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate.check_token(received, TOKEN)
    assert info.value.message == "callback token does not match"
    assert TOKEN not in json.dumps(info.value.to_dict())


@pytest.mark.parametrize("received", [None, ""])
def test_a_missing_token_is_rejected(received: str | None) -> None:
    with pytest.raises(errors.InvalidWebhook, match="missing callback token"):
        coingate.check_token(received, TOKEN)


def test_nothing_matches_when_no_token_is_stored() -> None:
    with pytest.raises(errors.InvalidSettings):
        coingate.check_token("", "")


def test_a_stored_hash_is_compared_with_the_hmac_of_the_received_token() -> None:
    stored = coingate.hash_token(TOKEN, "installation-secret")
    expected = hmac.new(b"installation-secret", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert stored == expected
    coingate.check_token(TOKEN, stored, secret="installation-secret")
    with pytest.raises(errors.InvalidWebhook):
        coingate.check_token(TOKEN, stored, secret="another-secret")
    with pytest.raises(errors.InvalidWebhook):
        coingate.check_token(stored, stored, secret="installation-secret")
    with pytest.raises(errors.InvalidSettings):
        coingate.hash_token(TOKEN, "")


def test_new_tokens_are_random_and_form_safe() -> None:
    tokens = {coingate.new_callback_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 43
        assert urlencode({"token": token}) == f"token={token}"


# --- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("19.99", "EUR", 1999),
        ("10.0", "EUR", 1000),
        ("1369", "usd", 136900),
        ("0.05", "GBP", 5),
        ("1000.0", "JPY", 1000),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("1E+3", "EUR", 100000),
    ],
)
def test_to_minor_is_exact(amount: str, currency: str, minor: int) -> None:
    assert coingate.to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1000.5", "JPY", "more decimals than JPY allows"),
        ("19.999", "EUR", "more decimals than EUR allows"),
        ("abc", "EUR", "not a decimal amount"),
        ("-1.00", "EUR", "not a decimal amount"),
        ("NaN", "EUR", "not a decimal amount"),
        ("Infinity", "EUR", "not a decimal amount"),
        ("0.001", "BTC", "not an ISO 4217 currency"),
        ("10", "USDT", "not an ISO 4217 currency"),
    ],
)
def test_to_minor_refuses_what_it_cannot_represent(
    amount: str, currency: str, expected: str
) -> None:
    with pytest.raises(errors.InvalidWebhook, match=expected):
        coingate.to_minor(amount, currency)


def test_to_minor_refuses_floats() -> None:
    with pytest.raises(errors.InvalidWebhook, match="wrong type"):
        coingate.to_minor(19.99, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1999, "EUR", "19.99"), (5, "EUR", "0.05"), (1000, "JPY", "1000"), (1234, "KWD", "1.234")],
)
def test_from_minor_round_trips(minor: int, currency: str, text: str) -> None:
    assert coingate.from_minor(minor, currency) == text
    assert coingate.to_minor(text, currency) == minor


@pytest.mark.parametrize(("minor", "currency"), [(100, "BTC"), (-1, "EUR")])
def test_from_minor_refuses_non_fiat_and_negative(minor: int, currency: str) -> None:
    with pytest.raises(errors.InvariantViolation):
        coingate.from_minor(minor, currency)


def test_exponents() -> None:
    assert [coingate.exponent(c) for c in ("EUR", "jpy", "KWD", "CLF", "BTC")] == [
        2,
        0,
        3,
        4,
        None,
    ]


# --- classify ---------------------------------------------------------------------------


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
    fact = coingate.classify(order(**changes), sandbox=False)
    assert (fact.kind, fact.amount_minor, fact.currency) == (kind, amount, "EUR")
    assert (fact.gateway_payment_id, fact.invoice_ref, fact.gateway_object_id) == (
        "535",
        "42",
        "535",
    )
    assert fact.livemode is True


def test_paid_with_an_underpayment_is_underpaid_with_what_arrived() -> None:
    # A quarter of the crypto is missing: about 75.00 EUR of 100.00 arrived (rounded down).
    fact = coingate.classify(order(underpaid_amount="0.00122472"), sandbox=True)
    assert fact.kind == "underpaid"
    assert fact.amount_minor == 7499
    assert fact.livemode is False


def test_expired_after_a_partial_payment_is_underpaid() -> None:
    fact = coingate.classify(
        order(status="expired", pay_amount="0.002", underpaid_amount="0.0005"), sandbox=True
    )
    assert (fact.kind, fact.amount_minor) == ("underpaid", 7500)


def test_underpaid_without_a_pay_amount_arrived_estimate_is_zero() -> None:
    fact = coingate.classify(order(pay_amount=None, underpaid_amount="0.1"), sandbox=True)
    assert (fact.kind, fact.amount_minor) == ("underpaid", 0)


def test_expired_after_paid_gives_a_failed_fact_for_the_same_invoice() -> None:
    # The invoice is paid through one CoinGate order; another order for it expires later.
    paid = coingate.classify(order(id=600), sandbox=True)
    expired = coingate.classify(
        order(id=601, status="expired", underpaid_amount="0.00489886"), sandbox=True
    )
    assert (paid.kind, expired.kind) == ("paid", "failed")
    assert paid.invoice_ref == expired.invoice_ref == "42"
    assert paid.gateway_payment_id != expired.gateway_payment_id
    # The same order fetched twice gives the same fact (deliveries dedupe on it).
    assert coingate.classify(order(id=600), sandbox=True) == paid


def test_refunds_are_cumulative_completed_request_amounts() -> None:
    partial = order(status="partially_refunded", refunds=[refund("10.0"), refund("5", "pending")])
    fact = coingate.classify(partial, sandbox=False)
    assert (fact.kind, fact.amount_minor, fact.gateway_object_id) == ("refund", 1000, "535:refunds")
    full = order(status="refunded", refunds=[refund("10.0"), refund("90.00", id_=9)])
    assert coingate.classify(full, sandbox=False).amount_minor == 10000


def test_refunded_without_listed_refunds_counts_in_full() -> None:
    fact = coingate.classify(order(status="refunded", refunds=None), sandbox=False)
    assert (fact.kind, fact.amount_minor) == ("refund", 10000)


def test_jpy_and_empty_order_id() -> None:
    fact = coingate.classify(
        order(price_currency="jpy", price_amount="1500.0", order_id=""), sandbox=True
    )
    assert (fact.amount_minor, fact.currency, fact.invoice_ref) == (1500, "JPY", None)


def test_a_btc_priced_order_is_refused() -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate.classify(order(price_currency="BTC", price_amount="0.0049"), sandbox=True)
    assert info.value.details == {"field": "price_currency"}


def test_parse_order_reads_the_money_fields() -> None:
    parsed = coingate.parse_order(order(receive_currency="do_not_convert", order_id=42))
    assert parsed.order_id == "42"
    assert parsed.receive_currency == "DO_NOT_CONVERT"
    assert parsed.pay_currency == "BTC"
    assert str(parsed.pay_amount) == "0.00489886"
    assert parsed.refunded_minor == 0
    bare = coingate.parse_order(order(receive_currency="", pay_currency=None, pay_amount=None))
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
        coingate.classify(order(**changes), sandbox=True)
    assert info.value.details == {"field": field}


# --- order_request ----------------------------------------------------------------------


def request(**changes: Any) -> dict[str, str]:
    args: dict[str, Any] = {
        "invoice_id": 42,
        "amount_minor": 1999,
        "currency": "eur",
        "callback_url": "https://billing.example/webhooks/coingate/main",
        "success_url": "https://billing.example/invoices/42",
        "cancel_url": "https://billing.example/invoices/42?canceled=1",
        "token": TOKEN,
        "title": "Invoice 42",
    }
    args.update(changes)
    return coingate.order_request(**args)


def test_order_request_body() -> None:
    assert request() == {
        "order_id": "42",
        "price_amount": "19.99",
        "price_currency": "EUR",
        "title": "Invoice 42",
        "description": "Invoice 42",
        "callback_url": "https://billing.example/webhooks/coingate/main",
        "success_url": "https://billing.example/invoices/42",
        "cancel_url": "https://billing.example/invoices/42?canceled=1",
        "token": TOKEN,
    }


def test_order_request_options() -> None:
    body = request(
        amount_minor=1500,
        currency="JPY",
        title="  " + "T" * 200,
        description="1 x VPS M, 1 x IPv4",
        receive_currency="usdc",
    )
    assert (body["price_amount"], body["price_currency"]) == ("1500", "JPY")
    assert body["title"] == "T" * 150
    assert body["description"] == "1 x VPS M, 1 x IPv4"
    assert body["receive_currency"] == "USDC"
    assert request(description="ab")["description"] == "Invoice 42"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount_minor": 0}, errors.InvariantViolation),
        ({"currency": "BTC"}, errors.InvariantViolation),
        ({"token": ""}, errors.InvariantViolation),
        ({"title": " ab "}, errors.InvariantViolation),
        ({"callback_url": "/webhooks/coingate"}, errors.InvalidSettings),
        ({"success_url": "ftp://billing.example/"}, errors.InvalidSettings),
    ],
)
def test_order_request_refuses_bad_input(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        request(**changes)


def test_api_urls() -> None:
    assert coingate.api_url(sandbox=True) == "https://api-sandbox.coingate.com/v2/"
    assert coingate.api_url(sandbox=False) == "https://api.coingate.com/v2/"
