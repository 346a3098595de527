"""PayPal events, captures and orders as facts: `gateways.paypal.events`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing import facts
from fluxbilling.billing.gateways.paypal import events as paypal_events
from tests.unit.billing.gateways.samples import PAYPAL_CAPTURE_COMPLETED as BODY

# --- parse_event ----------------------------------------------------------------------


def test_parse_event_reads_the_envelope() -> None:
    event = paypal_events.parse_event(BODY)
    assert event.id == "WH-36G56432PK518391U-9HW18392D95289106"
    assert event.event_type == "PAYMENT.CAPTURE.COMPLETED"
    assert event.resource_type == "capture"
    assert event.create_time == "2026-11-26T06:59:58.123Z"
    assert event.resource["id"] == "7TK53561YB803214S"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"event_type": "X", "resource": {}}, "missing field 'id'"),
        ({"id": "WH-1", "resource": {}}, "missing field 'event_type'"),
        ({"id": "WH-1", "event_type": "X"}, "missing field 'resource'"),
        ({"id": 7, "event_type": "X", "resource": {}}, "field 'id' has the wrong type"),
        ({"id": "WH-1", "event_type": "X", "resource": []}, "field 'resource' has the wrong type"),
        ([1], "malformed JSON body: not an object"),
    ],
)
def test_parse_event_names_the_bad_field(payload: object, expected: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_events.parse_event(json.dumps(payload).encode())
    assert info.value.message == expected


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_parse_event_rejects_malformed_json(raw: bytes) -> None:
    with pytest.raises(errors.InvalidWebhook, match="malformed JSON body"):
        paypal_events.parse_event(raw)


# --- classify -------------------------------------------------------------------------


UP = {"href": "https://api.paypal.com/v2/payments/captures/7TK53561YB803214S", "rel": "up"}
CAPTURE = {
    "id": "7TK53561YB803214S",
    "status": "COMPLETED",
    "amount": {"currency_code": "EUR", "value": "19.99"},
    "custom_id": "INV-42",
    "invoice_id": "INV-42-b",
    "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
}


ORDER = {
    "id": "5O190127TN364715T",
    "status": "APPROVED",
    "purchase_units": [
        {"amount": {"currency_code": "JPY", "value": "1500"}, "invoice_id": "INV-9"}
    ],
}


REFUND = {
    "id": "1JU08902781691411",
    "amount": {"currency_code": "EUR", "value": "5.00"},
    "status": "COMPLETED",
    "custom_id": "INV-42",
    "links": [
        {"href": "https://api.paypal.com/v2/payments/refunds/1JU08902781691411", "rel": "self"},
        UP,
    ],
}


DISPUTE = {
    "dispute_id": "PP-D-27803",
    "dispute_amount": {"currency_code": "EUR", "value": "19.99"},
    "disputed_transactions": [
        {"seller_transaction_id": "7TK53561YB803214S", "invoice_number": "INV-42"}
    ],
}


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def event(type_: str, resource: dict[str, Any]) -> paypal_events.PayPalEvent:
    return paypal_events.PayPalEvent("WH-1", type_, "", "", resource)


CAP = str(CAPTURE["id"])
ORD = str(ORDER["id"])
PENDING = CAPTURE | {"status": "PENDING"}
APPROVAL_REVERSED = {"order_id": "O-2", "purchase_units": ORDER["purchase_units"]}


@pytest.mark.parametrize(
    ("type_", "resource", "kind", "payment_id", "alias", "object_id", "ref", "amount", "currency"),
    [
        ("PAYMENT.CAPTURE.COMPLETED", CAPTURE, "paid", ORD, CAP, CAP, "INV-42", 1999, "EUR"),
        ("PAYMENT.CAPTURE.PENDING", PENDING, "pending", ORD, CAP, CAP, "INV-42", 1999, "EUR"),
        ("PAYMENT.CAPTURE.DENIED", CAPTURE, "failed", ORD, CAP, CAP, "INV-42", 1999, "EUR"),
        ("PAYMENT.CAPTURE.DECLINED", CAPTURE, "failed", ORD, CAP, CAP, "INV-42", 1999, "EUR"),
        ("PAYMENT.CAPTURE.REFUNDED", REFUND, "refund", CAP, "", REFUND["id"], "INV-42", 500, "EUR"),
        ("PAYMENT.CAPTURE.REVERSED", REFUND, "dispute", CAP, "", REFUND["id"], "INV-42", 500, "EUR"),
        ("CHECKOUT.ORDER.APPROVED", ORDER, "pending", ORD, "", ORD, "INV-9", 1500, "JPY"),
        ("CHECKOUT.PAYMENT-APPROVAL.REVERSED", APPROVAL_REVERSED, "failed", "O-2", "", "O-2", "INV-9", 1500, "JPY"),
        ("CUSTOMER.DISPUTE.CREATED", DISPUTE, "dispute", CAP, "", "PP-D-27803", "INV-42", 1999, "EUR"),
        ("CUSTOMER.DISPUTE.UPDATED", DISPUTE, "dispute", CAP, "", "PP-D-27803", "INV-42", 1999, "EUR"),
        ("CUSTOMER.DISPUTE.RESOLVED", DISPUTE, "dispute", CAP, "", "PP-D-27803", "INV-42", 1999, "EUR"),
    ],
)  # fmt: skip
def test_classification_table(
    type_: str,
    resource: dict[str, Any],
    kind: str,
    payment_id: str,
    alias: str,
    object_id: str,
    ref: str,
    amount: int,
    currency: str,
) -> None:
    fact = paypal_events.classify(event(type_, resource), livemode=True)
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id) == (kind, payment_id, alias)
    assert fact.gateway_object_id == object_id
    assert (fact.invoice_ref, fact.amount_minor, fact.currency, fact.livemode) == (
        ref,
        amount,
        currency,
        True,
    )


def test_refunds_and_disputes_name_the_alias_of_the_paid_fact() -> None:
    paid = paypal_events.classify(event("PAYMENT.CAPTURE.COMPLETED", CAPTURE), livemode=False)
    refund = paypal_events.classify(event("PAYMENT.CAPTURE.REFUNDED", REFUND), livemode=False)
    dispute = paypal_events.classify(event("CUSTOMER.DISPUTE.CREATED", DISPUTE), livemode=False)
    assert paid.alias_id == refund.gateway_payment_id == dispute.gateway_payment_id


@pytest.mark.parametrize(
    ("links", "payment_id", "alias"),
    [
        ([{"href": "https://api.paypal.com/v2/checkout/orders/O-9", "rel": "up"}], "O-9", CAP),
        ([{"href": "https://api.paypal.com/v2/payments/authorizations/A-1", "rel": "up"}], CAP, ""),
        ([{"href": "https://api.paypal.com/v2/checkout/orders/O-9", "rel": "self"}], CAP, ""),
        (["junk", {"rel": "up"}], CAP, ""),
        (None, CAP, ""),
    ],
)
def test_capture_without_supplementary_data_finds_its_order_by_link(
    links: Any, payment_id: str, alias: str
) -> None:
    capture = without(CAPTURE, "supplementary_data") | {"links": links}
    fact = paypal_events.fact_from_capture(capture, livemode=False)
    assert (fact.gateway_payment_id, fact.alias_id, fact.gateway_object_id) == (
        payment_id,
        alias,
        CAP,
    )


def test_mode_comes_from_configuration_not_the_event() -> None:
    resource = CAPTURE | {
        "livemode": True,
        "links": [{"href": "https://api.paypal.com/x", "rel": "self"}],
    }
    assert (
        paypal_events.classify(
            event("PAYMENT.CAPTURE.COMPLETED", resource), livemode=False
        ).livemode
        is False
    )


def test_invoice_id_is_the_fallback_reference() -> None:
    resource = {k: v for k, v in CAPTURE.items() if k != "custom_id"}
    assert (
        paypal_events.classify(
            event("PAYMENT.CAPTURE.COMPLETED", resource), livemode=False
        ).invoice_ref
        == "INV-42-b"
    )
    bare = {k: v for k, v in resource.items() if k != "invoice_id"}
    assert (
        paypal_events.classify(event("PAYMENT.CAPTURE.COMPLETED", bare), livemode=False).invoice_ref
        is None
    )


def test_refund_without_an_up_link_names_itself() -> None:
    refund = REFUND | {"links": []}
    assert (
        paypal_events.classify(
            event("PAYMENT.CAPTURE.REFUNDED", refund), livemode=False
        ).gateway_payment_id
        == REFUND["id"]
    )


def test_dispute_without_transactions_names_itself() -> None:
    dispute = DISPUTE | {"disputed_transactions": []}
    fact = paypal_events.classify(event("CUSTOMER.DISPUTE.CREATED", dispute), livemode=False)
    assert (fact.gateway_payment_id, fact.invoice_ref) == ("PP-D-27803", None)


def completed_order(*captures: dict[str, Any]) -> dict[str, Any]:
    unit = {
        "amount": {"currency_code": "EUR", "value": "19.99"},
        "custom_id": "INV-42",
        "payments": {"captures": list(captures)},
    }
    return {"id": "5O190127TN364715T", "status": "COMPLETED", "purchase_units": [unit]}


def test_completed_order_states_its_capture_so_both_events_hit_one_key() -> None:
    in_order = {k: v for k, v in CAPTURE.items() if k not in ("custom_id", "invoice_id")}
    via_order = paypal_events.classify(
        event("CHECKOUT.ORDER.COMPLETED", completed_order(in_order)), livemode=False
    )
    via_capture = paypal_events.classify(
        event("PAYMENT.CAPTURE.COMPLETED", CAPTURE), livemode=False
    )
    assert via_order == via_capture
    assert paypal_events.fact_from_order(completed_order(in_order), livemode=False) == via_capture


def test_completed_order_prefers_the_completed_capture() -> None:
    declined = CAPTURE | {"id": "DECLINED1", "status": "DECLINED"}
    fact = paypal_events.fact_from_order(completed_order(declined, CAPTURE), livemode=False)
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id) == ("paid", ORD, CAP)
    only_declined = paypal_events.fact_from_order(completed_order(declined), livemode=False)
    assert (only_declined.kind, only_declined.alias_id) == ("failed", "DECLINED1")


def test_completed_order_without_captures_names_the_field() -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_events.classify(event("CHECKOUT.ORDER.COMPLETED", completed_order()), livemode=False)
    assert info.value.details == {"field": "resource.purchase_units[0].payments.captures"}
    with pytest.raises(errors.InvalidWebhook):
        paypal_events.fact_from_order(completed_order("junk"), livemode=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("CREATED", "pending"),
        ("PAYER_ACTION_REQUIRED", "pending"),
        ("APPROVED", "pending"),
        ("VOIDED", "failed"),
    ],
)
def test_order_states_before_capture(status: str, kind: str) -> None:
    fact = paypal_events.fact_from_order(ORDER | {"status": status}, livemode=True)
    assert (fact.kind, fact.gateway_payment_id, fact.amount_minor) == (kind, ORDER["id"], 1500)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("COMPLETED", "paid"),
        ("PARTIALLY_REFUNDED", "paid"),
        ("REFUNDED", "paid"),
        ("REVERSED", "paid"),
        ("PENDING", "pending"),
        ("DECLINED", "failed"),
        ("FAILED", "failed"),
    ],
)
def test_fetched_capture_states(status: str, kind: str) -> None:
    assert (
        paypal_events.fact_from_capture(CAPTURE | {"status": status}, livemode=False).kind == kind
    )


def test_unknown_capture_status_is_named() -> None:
    with pytest.raises(errors.InvalidWebhook, match="unknown capture status 'VOIDED'"):
        paypal_events.fact_from_capture(CAPTURE | {"status": "VOIDED"}, livemode=False)


@pytest.mark.parametrize(
    "type_",
    ["PAYMENT.SALE.COMPLETED", "BILLING.SUBSCRIPTION.CREATED", "CHECKOUT.ORDER.SAVED", "X"],
)
def test_unknown_and_subscription_types_are_ignored(type_: str) -> None:
    fact = paypal_events.classify(event(type_, {"id": "S-1", "custom_id": "INV-1"}), livemode=True)
    assert fact == facts.PaymentFact(
        kind="ignored",
        gateway_payment_id="S-1",
        invoice_ref="INV-1",
        amount_minor=0,
        currency="",
        livemode=True,
        gateway_object_id="S-1",
    )
    assert paypal_events.classify(event(type_, {}), livemode=False).gateway_payment_id == ""


@pytest.mark.parametrize(
    ("type_", "resource", "field"),
    [
        ("PAYMENT.CAPTURE.COMPLETED", without(CAPTURE, "id"), "resource.id"),
        ("PAYMENT.CAPTURE.COMPLETED", CAPTURE | {"amount": None}, "resource.amount"),
        (
            "PAYMENT.CAPTURE.COMPLETED",
            CAPTURE | {"amount": {"currency_code": "EUR", "value": "1.001"}},
            "resource.amount.value",
        ),
        ("PAYMENT.CAPTURE.REFUNDED", without(REFUND, "id"), "resource.id"),
        ("CHECKOUT.ORDER.APPROVED", ORDER | {"purchase_units": []}, "resource.purchase_units"),
        ("CHECKOUT.ORDER.APPROVED", without(ORDER, "id"), "resource.id"),
        ("CUSTOMER.DISPUTE.CREATED", without(DISPUTE, "dispute_amount"), "resource.dispute_amount"),
        ("CUSTOMER.DISPUTE.CREATED", without(DISPUTE, "dispute_id"), "resource.dispute_id"),
    ],
)
def test_classify_names_a_missing_field(type_: str, resource: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_events.classify(event(type_, resource), livemode=False)
    assert info.value.details == {"field": field}


# --- facts_from_order -----------------------------------------------------------------


REVERSAL = REFUND | {"id": "8MC585209K746631H", "note_to_payer": "Payment reversed"}
IN_ORDER = without(CAPTURE, "supplementary_data")  # captures listed in an order carry none


def refunded_order(*refunds: Any, capture: dict[str, Any] = IN_ORDER) -> dict[str, Any]:
    order = completed_order(capture | {"status": "PARTIALLY_REFUNDED"})
    order["purchase_units"][0]["payments"]["refunds"] = list(refunds)
    return order


def test_a_fetched_refund_is_the_fact_its_webhook_states() -> None:
    order = refunded_order(REFUND, REVERSAL)
    paid, refund, reversal = paypal_events.facts_from_order(order, livemode=True)
    assert paid == paypal_events.fact_from_order(order, livemode=True)
    assert refund == paypal_events.classify(
        event("PAYMENT.CAPTURE.REFUNDED", REFUND), livemode=True
    )
    assert reversal == paypal_events.classify(
        event("PAYMENT.CAPTURE.REVERSED", REVERSAL), livemode=True
    )
    assert (refund.kind, refund.gateway_payment_id, refund.gateway_object_id) == (
        "refund",
        CAP,
        REFUND["id"],
    )
    assert (reversal.kind, reversal.gateway_object_id) == ("dispute", REVERSAL["id"])
    assert paid.alias_id == refund.gateway_payment_id == reversal.gateway_payment_id


@pytest.mark.parametrize("status", ["PENDING", "FAILED", "CANCELLED", None])
def test_only_completed_refunds_are_facts(status: str | None) -> None:
    unfinished = REFUND | {"id": "UNFINISHED1", "status": status}
    facts = paypal_events.facts_from_order(refunded_order(unfinished, REFUND), livemode=False)
    assert [(f.kind, f.gateway_object_id) for f in facts] == [
        ("paid", CAP),
        ("refund", REFUND["id"]),
    ]


def test_an_order_without_refunds_states_its_payment_alone() -> None:
    assert paypal_events.facts_from_order(completed_order(IN_ORDER), livemode=False) == [
        paypal_events.fact_from_order(completed_order(IN_ORDER), livemode=False)
    ]
    for status in ("CREATED", "APPROVED", "VOIDED"):
        [fact] = paypal_events.facts_from_order(ORDER | {"status": status}, livemode=False)
        assert fact.gateway_payment_id == ORD


def test_the_refunded_capture_wins_over_a_declined_attempt() -> None:
    declined = IN_ORDER | {"id": "DECLINED1", "status": "DECLINED"}
    refunded = IN_ORDER | {"status": "REFUNDED"}
    order = completed_order(declined, refunded)
    order["purchase_units"][0]["payments"]["refunds"] = [REFUND]
    paid, refund = paypal_events.facts_from_order(order, livemode=False)
    assert (paid.kind, paid.alias_id) == ("paid", CAP)
    assert refund.gateway_payment_id == CAP


def test_a_refund_entry_without_link_or_ids_takes_the_orders() -> None:
    bare = without(without(REFUND, "links"), "custom_id")
    _, refund = paypal_events.facts_from_order(refunded_order(bare), livemode=False)
    assert (refund.gateway_payment_id, refund.invoice_ref) == (CAP, "INV-42")


@pytest.mark.parametrize(
    ("refunds", "field"),
    [
        ("junk", "order.purchase_units[0].payments.refunds"),
        (["junk"], "order.purchase_units[0].payments.refunds"),
        ([REFUND, without(REFUND, "id")], "order.purchase_units[0].payments.refunds[1].id"),
        ([REFUND | {"amount": None}], "order.purchase_units[0].payments.refunds[0].amount"),
    ],
)
def test_an_unreadable_refund_entry_is_named(refunds: Any, field: str) -> None:
    order = refunded_order()
    order["purchase_units"][0]["payments"]["refunds"] = refunds
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_events.facts_from_order(order, livemode=False)
    assert info.value.details == {"field": field}


def test_related_order_id() -> None:
    assert paypal_events.related_order_id(CAPTURE) == "5O190127TN364715T"
    assert paypal_events.related_order_id({}) is None
    assert paypal_events.related_order_id({"supplementary_data": {"related_ids": []}}) is None
