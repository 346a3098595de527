"""Mollie notification parsing, next-gen signatures, payment classification and the API client."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing import mollie
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.mollie_api import MollieApi
from fluxbilling.drivers.upstream import Credential, UpstreamHttp
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators._faults import Faults

SECRET = "whsec_nextgen_current_0123456789"
OLD_SECRET = "whsec_nextgen_previous_0123456789"
EVENT = json.dumps(
    {
        "resource": "event",
        "id": "event_GvJ8WHrp5isUdRub9CJyH",
        "type": "payment.paid",
        "entityId": "tr_5B8cwPMGnU6qLbRvo7qEZo",
        "createdAt": "2026-11-26T10:00:00+00:00",
        "_embedded": {"entity": {"resource": "payment", "id": "tr_5B8cwPMGnU6qLbRvo7qEZo"}},
        "_links": {
            "entity": {"href": "https://api.mollie.com/v2/payments/tr_5B8cwPMGnU6qLbRvo7qEZo"}
        },
    },
    indent=2,
).encode()


def payment(**overrides: Any) -> dict[str, Any]:
    """A fetched payment shaped like Mollie's documentation example."""
    data: dict[str, Any] = {
        "resource": "payment",
        "id": "tr_WDqYK6vllg",
        "mode": "test",
        "createdAt": "2026-11-26T10:00:00+00:00",
        "amount": {"value": "10.00", "currency": "EUR"},
        "description": "Invoice 42",
        "method": "ideal",
        "metadata": {"invoice_id": "42"},
        "status": "paid",
        "paidAt": "2026-11-26T10:01:00+00:00",
        "amountRefunded": {"value": "0.00", "currency": "EUR"},
        "amountRemaining": {"value": "10.00", "currency": "EUR"},
        "profileId": "pfl_QkEhN94Ba",
        "sequenceType": "oneoff",
        "redirectUrl": "https://shop.test/return",
        "webhookUrl": "https://shop.test/webhooks/mollie",
        "_links": {"self": {"href": "https://api.mollie.com/v2/payments/tr_WDqYK6vllg"}},
    }
    data.update(overrides)
    return data


def refund(refund_id: str, value: str, status: str = "refunded") -> dict[str, Any]:
    return {
        "resource": "refund",
        "id": refund_id,
        "amount": {"value": value, "currency": "EUR"},
        "status": status,
        "paymentId": "tr_WDqYK6vllg",
    }


def chargeback(chargeback_id: str, value: str, reversed_at: str | None = None) -> dict[str, Any]:
    return {
        "resource": "chargeback",
        "id": chargeback_id,
        "amount": {"value": value, "currency": "EUR"},
        "reversedAt": reversed_at,
        "paymentId": "tr_WDqYK6vllg",
    }


def invalid(call: Any, *args: Any, **kwargs: Any) -> errors.InvalidWebhook:
    with pytest.raises(errors.InvalidWebhook) as info:
        call(*args, **kwargs)
    return info.value


# --- parse_notification ---------------------------------------------------------------


def test_classic_notification_yields_the_payment_id() -> None:
    body = b"id=tr_5B8cwPMGnU6qLbRvo7qEZo"
    content_type = "application/x-www-form-urlencoded"
    assert mollie.parse_notification(body, content_type) == "tr_5B8cwPMGnU6qLbRvo7qEZo"


def test_content_type_parameters_are_tolerated() -> None:
    body = b"id=tr_abc"
    assert mollie.parse_notification(body, "application/x-www-form-urlencoded; charset=UTF-8")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "missing field 'id'"),
        (b"id=", "field 'id' is not a payment id (tr_...)"),
        (b"id=re_4qqhO89gsT", "field 'id' is not a payment id (tr_...)"),
        (b"id=ord_pbjz8x", "field 'id' is not a payment id (tr_...)"),
        (b"id=tr_abc%2F..%2Fx", "field 'id' is not a payment id (tr_...)"),
        (b"id=tr_" + b"a" * 65, "field 'id' is not a payment id (tr_...)"),
        (b"id=tr_a&id=tr_b", "expected one 'id', found 2"),
        (b"id=tr_a&status=paid", "unexpected form fields"),
        (b"payment=tr_a", "unexpected form fields"),
        (b"id", "malformed form body"),
        (b"id=tr_\xff", "malformed form body"),
        (b'{"id": "tr_a"}', "malformed form body"),
    ],
)
def test_anything_but_one_payment_id_is_rejected(body: bytes, message: str) -> None:
    assert invalid(mollie.parse_notification, body).message == message


def test_unexpected_fields_are_named() -> None:
    error = invalid(mollie.parse_notification, b"id=tr_a&status=paid")
    assert error.details == {"fields": ["status"]}


def test_json_content_type_is_not_a_classic_notification() -> None:
    error = invalid(mollie.parse_notification, b"id=tr_a", "application/json")
    assert error.message == "content type 'application/json' is not a form"


# --- next-gen signatures --------------------------------------------------------------


def test_signature_matches_an_independent_computation() -> None:
    expected = hmac.new(SECRET.encode(), EVENT, hashlib.sha256).hexdigest()
    assert mollie.sign(EVENT, SECRET) == f"sha256={expected}"


def test_valid_signature_passes() -> None:
    mollie.verify_signature(EVENT, mollie.sign(EVENT, SECRET), [SECRET])


def test_bare_hex_without_the_prefix_passes() -> None:
    bare = mollie.sign(EVENT, SECRET).removeprefix("sha256=")
    mollie.verify_signature(EVENT, bare, [SECRET])


def test_upper_case_hex_passes() -> None:
    upper = "sha256=" + mollie.sign(EVENT, SECRET).removeprefix("sha256=").upper()
    mollie.verify_signature(EVENT, upper, [SECRET])


def test_one_header_per_secret_during_mollie_rotation() -> None:
    headers = [mollie.sign(EVENT, "whsec_not_ours"), mollie.sign(EVENT, SECRET)]
    mollie.verify_signature(EVENT, headers, [SECRET])


def test_folded_repeated_headers_pass() -> None:
    folded = f"{mollie.sign(EVENT, 'whsec_not_ours')}, {mollie.sign(EVENT, SECRET)}"
    mollie.verify_signature(EVENT, folded, [SECRET])


def test_our_previous_secret_still_verifies() -> None:
    mollie.verify_signature(EVENT, [mollie.sign(EVENT, OLD_SECRET)], [SECRET, OLD_SECRET])


def test_body_tampered_by_one_byte_is_rejected() -> None:
    header = mollie.sign(EVENT, SECRET)
    tampered = EVENT.replace(b"payment.paid", b"payment.pai_")
    assert len(tampered) == len(EVENT)
    assert invalid(mollie.verify_signature, tampered, header, [SECRET]).message == (
        "no signature matches"
    )


def test_reserialised_json_is_rejected() -> None:
    reserialised = json.dumps(json.loads(EVENT)).encode()
    assert reserialised != EVENT
    header = mollie.sign(EVENT, SECRET)
    assert invalid(mollie.verify_signature, reserialised, header, [SECRET]).message == (
        "no signature matches"
    )


def test_wrong_secret_is_rejected_without_leaking_it() -> None:
    error = invalid(mollie.verify_signature, EVENT, mollie.sign(EVENT, "whsec_x"), [SECRET])
    assert error.message == "no signature matches"
    assert error.details == {"signatures": 1, "secrets_tried": 1}
    assert SECRET not in json.dumps(error.to_dict())


@pytest.mark.parametrize("header", ["sha1=" + "0" * 40, "sha256=", "sha256=\u00e9\u00e9", "zz"])
def test_other_schemes_and_garbage_are_mismatches(header: str) -> None:
    assert invalid(mollie.verify_signature, EVENT, header, [SECRET]).message == (
        "no signature matches"
    )


@pytest.mark.parametrize("header", [None, "", "  ", [], [""], [" , "]])
def test_missing_header_is_rejected(header: str | list[str] | None) -> None:
    assert invalid(mollie.verify_signature, EVENT, header, [SECRET]).message == (
        "missing X-Mollie-Signature header"
    )


def test_no_configured_secret_is_a_settings_error() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie.verify_signature(EVENT, mollie.sign(EVENT, SECRET), [])


# --- parse_event ----------------------------------------------------------------------


def test_parse_event_reads_the_envelope() -> None:
    event = mollie.parse_event(EVENT)
    assert (event.id, event.type, event.entity_id) == (
        "event_GvJ8WHrp5isUdRub9CJyH",
        "payment.paid",
        "tr_5B8cwPMGnU6qLbRvo7qEZo",
    )
    assert event.created_at == "2026-11-26T10:00:00+00:00"
    assert event.entity == {"resource": "payment", "id": "tr_5B8cwPMGnU6qLbRvo7qEZo"}


def test_simple_payload_has_no_entity() -> None:
    data = json.loads(EVENT)
    del data["_embedded"]
    assert mollie.parse_event(json.dumps(data).encode()).entity is None


def envelope(**changes: Any) -> bytes:
    data = json.loads(EVENT)
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v != "DROP"}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (envelope(id="DROP"), "missing field 'id'"),
        (envelope(type=""), "missing field 'type'"),
        (envelope(entityId=7), "field 'entityId' has the wrong type"),
        (envelope(createdAt=None), "missing field 'createdAt'"),
        (envelope(resource="payment"), "field 'resource' is not 'event'"),
        (envelope(_embedded=[]), "field '_embedded' has the wrong type"),
        (envelope(_embedded={"entity": "tr_x"}), "field '_embedded.entity' has the wrong type"),
        (b"[1, 2]", "malformed JSON body: not an object"),
    ],
)
def test_parse_event_names_the_bad_field(body: bytes, message: str) -> None:
    assert invalid(mollie.parse_event, body).message == message


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"id=tr_a"])
def test_parse_event_rejects_malformed_json(raw: bytes) -> None:
    assert invalid(mollie.parse_event, raw).message.startswith("malformed JSON body")


# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("10.00", "EUR", 1000),
        ("10.5", "EUR", 1050),
        ("0.01", "eur", 1),
        ("10", "USD", 1000),
        ("1000", "JPY", 1000),
        ("1000.00", "JPY", 1000),
        ("1500", "ISK", 1500),
        ("123456789.99", "GBP", 12345678999),
        ("0.30", "EUR", 30),
    ],
)
def test_amounts_become_minor_units(value: str, currency: str, minor: int) -> None:
    assert mollie.to_minor(value, currency) == minor


def test_amounts_do_not_go_through_float() -> None:
    # float("0.29") * 100 == 28.999999999999996: a float conversion would truncate to 28.
    assert int(float("0.29") * 100) == 28
    assert mollie.to_minor("0.29", "EUR") == 29


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("10.005", "EUR", "field 'amount.value' has more decimals than EUR allows"),
        ("10.5", "JPY", "field 'amount.value' has more decimals than JPY allows"),
        ("-1.00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("1e3", "EUR", "field 'amount.value' is not a decimal amount"),
        ("10.", "EUR", "field 'amount.value' is not a decimal amount"),
        (" 10.00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("NaN", "EUR", "field 'amount.value' is not a decimal amount"),
        ("1,00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("10.00", "XXX", "unsupported currency in 'amount.currency'"),
        ("10.00", "", "unsupported currency in 'amount.currency'"),
    ],
)
def test_bad_amounts_are_rejected(value: str, currency: str, message: str) -> None:
    assert invalid(mollie.to_minor, value, currency).message == message


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1050, "EUR", "10.50"), (1, "EUR", "0.01"), (1000, "JPY", "1000"), (99, "isk", "99")],
)
def test_format_amount_uses_the_currency_decimals(minor: int, currency: str, text: str) -> None:
    assert mollie.format_amount(minor, currency) == text
    assert mollie.to_minor(text, currency) == minor


def test_format_amount_rejects_unknown_currencies() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie.format_amount(100, "XBT")


# --- classify -------------------------------------------------------------------------


def fact(kind: str, amount: int, object_id: str = "tr_WDqYK6vllg", **kw: Any) -> PaymentFact:
    values: dict[str, Any] = {
        "kind": kind,
        "gateway_payment_id": "tr_WDqYK6vllg",
        "invoice_ref": "42",
        "amount_minor": amount,
        "currency": "EUR",
        "livemode": False,
        "gateway_object_id": object_id,
    }
    values.update(kw)
    return PaymentFact(**values)


def test_paid_payment_is_one_paid_fact() -> None:
    assert mollie.classify(payment()) == [fact("paid", 1000)]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("open", "pending"),
        ("pending", "pending"),
        ("authorized", "pending"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("expired", "failed"),
        ("some-future-status", "ignored"),
    ],
)
def test_status_mapping(status: str, kind: str) -> None:
    facts = mollie.classify(payment(status=status, amountRefunded=None, amountRemaining=None))
    assert facts == [fact(kind, 1000)]


def test_authorized_needs_capture() -> None:
    assert mollie.needs_capture(payment(status="authorized"))
    assert not mollie.needs_capture(payment())


def test_live_mode_and_invoice_ref_and_yen() -> None:
    fetched = payment(
        mode="live",
        amount={"value": "1500", "currency": "JPY"},
        amountRefunded={"value": "0", "currency": "JPY"},
        metadata={"invoice_id": 77, "other": "x"},
    )
    assert mollie.classify(fetched) == [
        fact("paid", 1500, currency="JPY", livemode=True, invoice_ref="77")
    ]


@pytest.mark.parametrize("metadata", [None, "invoice 42", {"order": "1"}, {"invoice_id": True}])
def test_missing_or_foreign_metadata_has_no_invoice_ref(metadata: object) -> None:
    assert mollie.classify(payment(metadata=metadata))[0].invoice_ref is None


def test_embedded_refunds_and_chargebacks_become_keyed_facts() -> None:
    fetched = payment(
        amountRefunded={"value": "7.50", "currency": "EUR"},
        amountChargedBack={"value": "2.50", "currency": "EUR"},
        _embedded={
            "refunds": [refund("re_1", "5.00"), refund("re_2", "2.50", "pending")],
            "chargebacks": [chargeback("chb_1", "2.50")],
        },
    )
    assert mollie.classify(fetched) == [
        fact("paid", 1000),
        fact("refund", 500, "re_1"),
        fact("refund", 250, "re_2"),
        fact("dispute", 250, "chb_1"),
    ]


def test_failed_refunds_and_reversed_chargebacks_count_zero() -> None:
    fetched = payment(
        _embedded={
            "refunds": [refund("re_1", "5.00", "failed"), refund("re_2", "1.00", "canceled")],
            "chargebacks": [chargeback("chb_1", "10.00", "2026-11-27T10:00:00+00:00")],
        }
    )
    assert mollie.classify(fetched)[1:] == [
        fact("refund", 0, "re_1"),
        fact("refund", 0, "re_2"),
        fact("dispute", 0, "chb_1"),
    ]


def test_without_embeds_the_totals_give_aggregate_facts() -> None:
    fetched = payment(
        amountRefunded={"value": "10.00", "currency": "EUR"},
        amountChargedBack={"value": "3.00", "currency": "EUR"},
    )
    assert mollie.classify(fetched)[1:] == [fact("refund", 1000, ""), fact("dispute", 300, "")]


def test_zero_totals_give_no_sub_facts() -> None:
    fetched = payment(amountChargedBack={"value": "0.00", "currency": "EUR"})
    assert mollie.classify(fetched) == [fact("paid", 1000)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": None}, "missing field 'id'"),
        ({"status": 3}, "field 'status' has the wrong type"),
        ({"mode": "sandbox"}, "field 'mode' is neither 'test' nor 'live'"),
        ({"amount": None}, "missing field 'amount'"),
        (
            {"amount": {"value": 10, "currency": "EUR"}},
            "field 'amount.value' is not a decimal amount",
        ),
        ({"amount": {"value": "10.00"}}, "unsupported currency in 'amount.currency'"),
        ({"resource": "refund"}, "field 'resource' is not 'payment'"),
        (
            {"_embedded": {"refunds": {"id": "re_1"}}},
            "field '_embedded.refunds' has the wrong type",
        ),
        ({"_embedded": {"refunds": [{"amount": {}}]}}, "missing field '_embedded.refunds[0].id'"),
        (
            {
                "_embedded": {
                    "chargebacks": [
                        {"id": "chb_1", "amount": {"value": "1.001", "currency": "EUR"}}
                    ]
                }
            },
            "field '_embedded.chargebacks[0].amount.value' has more decimals than EUR allows",
        ),
    ],
)
def test_classify_names_the_bad_field(changes: dict[str, Any], message: str) -> None:
    assert invalid(mollie.classify, payment(**changes)).message == message


# --- checkout_request -----------------------------------------------------------------


def test_checkout_request_is_the_create_payment_body() -> None:
    body = mollie.checkout_request(
        42, 1050, "eur", "Invoice 42", "https://shop.test/r", "https://shop.test/w"
    )
    assert body == {
        "amount": {"currency": "EUR", "value": "10.50"},
        "description": "Invoice 42",
        "redirectUrl": "https://shop.test/r",
        "webhookUrl": "https://shop.test/w",
        "metadata": {"invoice_id": "42"},
    }


def test_checkout_request_in_yen_has_no_decimals() -> None:
    body = mollie.checkout_request("inv-9", 1500, "JPY", "x", "https://r.test", "https://w.test")
    assert body["amount"] == {"currency": "JPY", "value": "1500"}


@pytest.mark.parametrize("amount", [0, -100, True])
def test_checkout_request_needs_a_positive_amount(amount: int) -> None:
    with pytest.raises(errors.InvariantViolation):
        mollie.checkout_request(1, amount, "EUR", "x", "https://r.test", "https://w.test")


def test_checkout_request_rejects_unsupported_currencies() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie.checkout_request(1, 100, "BTC", "x", "https://r.test", "https://w.test")


# --- MollieApi against the simulator --------------------------------------------------

API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"


@pytest.fixture
def sim() -> mollie_sim.MollieState:
    return mollie_sim.MollieState(faults=Faults(timeout_delay=0.01), seed=3)


@pytest.fixture
async def api(sim: mollie_sim.MollieState) -> AsyncIterator[MollieApi]:
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.ASGITransport(app=mollie_sim.create_app(sim)),
        secrets=[API_KEY],
        credentials={None: Credential(headers={"Authorization": f"Bearer {API_KEY}"})},
    )
    yield MollieApi(http)
    await http.aclose()


def body() -> dict[str, Any]:
    return mollie.checkout_request(
        42, 1000, "EUR", "Invoice 42", "https://shop.test/r", "https://shop.test/w"
    )


@pytest.mark.anyio
async def test_create_fetch_and_classify_round_trip(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    created = await api.create_payment(body(), "invoice-42-attempt-1")
    assert created["status"] == "open"
    assert created["_links"]["checkout"]["href"].startswith("https://api.mollie.test/checkout/")
    sim.pay(created["id"])
    sim.refund(created["id"], 400)
    fetched = await api.get_payment(created["id"])
    assert fetched is not None
    refund_id = fetched["_embedded"]["refunds"][0]["id"]
    assert mollie.classify(fetched) == [
        fact("paid", 1000, created["id"], gateway_payment_id=created["id"]),
        fact("refund", 400, refund_id, gateway_payment_id=created["id"]),
    ]


@pytest.mark.anyio
async def test_retrying_a_create_with_the_same_key_returns_the_same_payment(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    sim.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await api.create_payment(body(), "invoice-42-attempt-1")
    again = await api.create_payment(body(), "invoice-42-attempt-1")
    assert list(sim.payments) == [again["id"]]


@pytest.mark.anyio
async def test_unknown_payment_is_none(api: MollieApi) -> None:
    assert await api.get_payment("tr_doesnotexist") is None


@pytest.mark.anyio
async def test_not_a_payment_id_is_our_bug(api: MollieApi) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.get_payment("../customers")
    with pytest.raises(errors.InvariantViolation):
        await api.create_payment(body(), "")


@pytest.mark.anyio
async def test_upstream_failures_are_classified(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    sim.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError):
        await api.get_payment("tr_doesnotexist")
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.create_payment({**body(), "description": ""}, "k-2")
    assert info.value.status == 422
    assert "The description is required." in info.value.message


@pytest.mark.anyio
async def test_a_bad_key_is_permanent_and_redacted(sim: mollie_sim.MollieState) -> None:
    key = "live_notavalidkeyforthisaccount"
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.ASGITransport(app=mollie_sim.create_app(sim)),
        secrets=[key],
        credentials={None: Credential(headers={"Authorization": f"Bearer {key}"})},
    )
    sim.api_keys = frozenset({API_KEY})
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await MollieApi(http).get_payment("tr_abc")
    assert info.value.status == 401
    assert key not in json.dumps(http.recorder.last.to_dict() if http.recorder.last else {})
    await http.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("content", [b"<html>oops</html>", b"[1]"])
async def test_a_success_that_is_not_a_json_object_is_permanent(content: bytes) -> None:
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=content)),
    )
    with pytest.raises(errors.PermanentUpstreamError, match=r"answered 200 without a JSON object$"):
        await MollieApi(http).get_payment("tr_abc")
    await http.aclose()


@pytest.mark.anyio
async def test_requests_are_what_mollie_expects() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = 201 if request.method == "POST" else 200
        return httpx.Response(status, json={"resource": "payment", "id": "tr_x"})

    http = UpstreamHttp("mollie", "https://api.mollie.test", transport=httpx.MockTransport(handler))
    await MollieApi(http).create_payment(body(), "key-1")
    await MollieApi(http).get_payment("tr_x")
    await http.aclose()
    create, get = seen
    assert (create.method, create.url.path) == ("POST", "/v2/payments")
    assert create.headers["Idempotency-Key"] == "key-1"
    assert json.loads(create.content) == body()
    assert (get.method, get.url.path) == ("GET", "/v2/payments/tr_x")
    assert get.url.params["embed"] == "refunds,chargebacks"
