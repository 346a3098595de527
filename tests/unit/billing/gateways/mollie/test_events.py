"""Mollie notifications and fetched payments as facts: `gateways.mollie.events`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateways.mollie import events as mollie_events
from tests.unit.billing.gateways.samples import MOLLIE_EVENT as EVENT


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
    assert mollie_events.parse_notification(body, content_type) == "tr_5B8cwPMGnU6qLbRvo7qEZo"


def test_content_type_parameters_are_tolerated() -> None:
    body = b"id=tr_abc"
    assert mollie_events.parse_notification(
        body, "application/x-www-form-urlencoded; charset=UTF-8"
    )


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
    assert invalid(mollie_events.parse_notification, body).message == message


def test_unexpected_fields_are_named() -> None:
    error = invalid(mollie_events.parse_notification, b"id=tr_a&status=paid")
    assert error.details == {"fields": ["status"]}


def test_json_content_type_is_not_a_classic_notification() -> None:
    error = invalid(mollie_events.parse_notification, b"id=tr_a", "application/json")
    assert error.message == "content type 'application/json' is not a form"


# --- parse_event ----------------------------------------------------------------------


def test_parse_event_reads_the_envelope() -> None:
    event = mollie_events.parse_event(EVENT)
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
    assert mollie_events.parse_event(json.dumps(data).encode()).entity is None


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
    assert invalid(mollie_events.parse_event, body).message == message


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"id=tr_a"])
def test_parse_event_rejects_malformed_json(raw: bytes) -> None:
    assert invalid(mollie_events.parse_event, raw).message.startswith("malformed JSON body")


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
    assert mollie_events.classify(payment()) == [fact("paid", 1000)]


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
    facts = mollie_events.classify(
        payment(status=status, amountRefunded=None, amountRemaining=None)
    )
    assert facts == [fact(kind, 1000)]


def test_authorized_needs_capture() -> None:
    assert mollie_events.needs_capture(payment(status="authorized"))
    assert not mollie_events.needs_capture(payment())


def test_live_mode_and_invoice_ref_and_yen() -> None:
    fetched = payment(
        mode="live",
        amount={"value": "1500", "currency": "JPY"},
        amountRefunded={"value": "0", "currency": "JPY"},
        metadata={"invoice_id": 77, "other": "x"},
    )
    assert mollie_events.classify(fetched) == [
        fact("paid", 1500, currency="JPY", livemode=True, invoice_ref="77")
    ]


@pytest.mark.parametrize("metadata", [None, "invoice 42", {"order": "1"}, {"invoice_id": True}])
def test_missing_or_foreign_metadata_has_no_invoice_ref(metadata: object) -> None:
    assert mollie_events.classify(payment(metadata=metadata))[0].invoice_ref is None


def test_embedded_refunds_and_chargebacks_become_keyed_facts() -> None:
    fetched = payment(
        amountRefunded={"value": "7.50", "currency": "EUR"},
        amountChargedBack={"value": "2.50", "currency": "EUR"},
        _embedded={
            "refunds": [refund("re_1", "5.00"), refund("re_2", "2.50", "pending")],
            "chargebacks": [chargeback("chb_1", "2.50")],
        },
    )
    assert mollie_events.classify(fetched) == [
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
    assert mollie_events.classify(fetched)[1:] == [
        fact("refund", 0, "re_1"),
        fact("refund", 0, "re_2"),
        fact("dispute", 0, "chb_1"),
    ]


def test_without_embeds_the_totals_give_aggregate_facts() -> None:
    fetched = payment(
        amountRefunded={"value": "10.00", "currency": "EUR"},
        amountChargedBack={"value": "3.00", "currency": "EUR"},
    )
    assert mollie_events.classify(fetched)[1:] == [
        fact("refund", 1000, ""),
        fact("dispute", 300, ""),
    ]


def test_zero_totals_give_no_sub_facts() -> None:
    fetched = payment(amountChargedBack={"value": "0.00", "currency": "EUR"})
    assert mollie_events.classify(fetched) == [fact("paid", 1000)]


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
    assert invalid(mollie_events.classify, payment(**changes)).message == message
