"""What a fact must be before the ledger writes it, and the keys and hints built from facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fluxbilling import errors
from fluxbilling.billing import facts, ledger
from fluxbilling.billing.facts import MAX_AMOUNT_MINOR, PaymentFact
from fluxbilling.billing.gateway import state_key, unreadable

FACT = PaymentFact("paid", "cs_test_1", "7", 1999, "EUR", False, "cs_test_1", "pi_1")


def test_an_ordinary_fact_can_be_stored() -> None:
    assert facts.unstorable(FACT) == ""
    assert facts.unstorable(replace(FACT, amount_minor=MAX_AMOUNT_MINOR, currency="")) == ""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"amount_minor": MAX_AMOUNT_MINOR + 1}, "amount out of range: more than"),
        ({"amount_minor": 99999999999999999999}, "amount out of range: more than"),
        ({"amount_minor": 10**5000}, "amount out of range: more than"),
        ({"amount_minor": -1}, "amount out of range: negative"),
        ({"amount_minor": True}, "not an integer"),
        ({"amount_minor": 19.99}, "not an integer"),
        ({"currency": "EURO"}, "currency 'EURO' is not an ISO 4217 code"),
        ({"currency": "€UR"}, "is not an ISO 4217 code"),
        ({"gateway_payment_id": "cs_" + "x" * 253}, "gateway_payment_id is not an id"),
        ({"gateway_object_id": "re_\x00"}, "gateway_object_id is not an id"),
        ({"alias_id": "pi_\udc80"}, "alias_id is not an id"),
    ],
)
def test_a_fact_our_columns_cannot_hold_says_why(change: dict[str, object], problem: str) -> None:
    assert problem in facts.unstorable(replace(FACT, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("42", 42),
        ("9" * 18, 10**18 - 1),
        ("9" * 19, None),  # beyond BIGINT: no id of ours
        ("99999999999999999999", None),
        ("²", None),  # a digit to str.isdigit, not to int()
        ("٤٢", None),  # Arabic-Indic digits: not how we write ids
        ("-1", None),
        ("", None),
        (None, None),
    ],
)
def test_an_invoice_reference_is_a_hint_only_when_it_can_be_our_id(
    ref: str | None, hint: int | None
) -> None:
    assert ledger.invoice_hint(ref) == hint


def test_a_state_key_takes_any_amount() -> None:
    huge = replace(FACT, amount_minor=10**5000)  # cannot even be written in decimal
    assert state_key("7", [huge]) != state_key("7", [FACT])
    assert state_key("7", [huge]) == state_key("7", [huge])


def test_unreadable_marks_an_authentic_delivery_and_keeps_the_reason() -> None:
    marked = unreadable(errors.InvalidWebhook("missing field 'data'", field="data"))
    assert (marked.message, marked.details) == (
        "missing field 'data'",
        {"field": "data", "authentic": True},
    )
