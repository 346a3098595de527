"""CoinGate callbacks and per-order tokens: `gateways.coingate.verify`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import verify as coingate_verify

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


# --- parse_callback -------------------------------------------------------------------


def test_form_callback_as_coingate_sends_it() -> None:
    fees = [("fees[][type]", "processing_fee"), ("fees[][amount]", "1.0")]
    fees += [("fees[][type]", "conversion_fee"), ("fees[][currency][symbol]", "EUR")]
    callback = coingate_verify.parse_callback(form(CALLBACK, *fees), FORM)
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
    callback = coingate_verify.parse_callback(body, "application/json; charset=utf-8")
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
    assert coingate_verify.parse_callback(body, None).id == expected


def test_a_callback_without_token_parses_and_fails_the_check() -> None:
    fields = {k: v for k, v in CALLBACK.items() if k != "token"}
    callback = coingate_verify.parse_callback(form(fields), FORM)
    assert callback.token is None
    with pytest.raises(errors.InvalidWebhook, match="missing callback token"):
        coingate_verify.check_token(callback.token, TOKEN)


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
        coingate_verify.parse_callback(body, content_type)
    assert expected in info.value.message
    assert TOKEN not in json.dumps(info.value.to_dict())


# --- tokens ---------------------------------------------------------------------------


def test_the_right_token_passes() -> None:
    coingate_verify.check_token(TOKEN, TOKEN)


@pytest.mark.parametrize("received", [TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "é" * 23])
def test_a_wrong_token_is_rejected(received: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        coingate_verify.check_token(received, TOKEN)
    assert info.value.message == "callback token does not match"
    assert TOKEN not in json.dumps(info.value.to_dict())


@pytest.mark.parametrize("received", [None, ""])
def test_a_missing_token_is_rejected(received: str | None) -> None:
    with pytest.raises(errors.InvalidWebhook, match="missing callback token"):
        coingate_verify.check_token(received, TOKEN)


def test_nothing_matches_when_no_token_is_stored() -> None:
    with pytest.raises(errors.InvalidSettings):
        coingate_verify.check_token("", "")


def test_a_stored_hash_is_compared_with_the_hmac_of_the_received_token() -> None:
    stored = coingate_verify.hash_token(TOKEN, "installation-secret")
    expected = hmac.new(b"installation-secret", TOKEN.encode(), hashlib.sha256).hexdigest()
    assert stored == expected
    coingate_verify.check_token(TOKEN, stored, secret="installation-secret")
    with pytest.raises(errors.InvalidWebhook):
        coingate_verify.check_token(TOKEN, stored, secret="another-secret")
    with pytest.raises(errors.InvalidWebhook):
        coingate_verify.check_token(stored, stored, secret="installation-secret")
    with pytest.raises(errors.InvalidSettings):
        coingate_verify.hash_token(TOKEN, "")


def test_new_tokens_are_random_and_form_safe() -> None:
    tokens = {coingate_verify.new_callback_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 43
        assert urlencode({"token": token}) == f"token={token}"
