"""`gateways.fields.required`: what a gateway's event parser accepts as a required field."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.fields import required


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        ({"id": "pay_1"}, str, "pay_1"),
        ({"id": 7}, int, 7),
        ({"id": {"a": 1}}, dict, {"a": 1}),
    ],
)
def test_a_present_field_of_its_kind_is_returned(
    data: dict[str, Any], kind: type, expected: object
) -> None:
    assert required(data, "id", kind, "resource.id") == expected


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        ({}, str, "missing field 'resource.id'"),
        ({"id": None}, str, "missing field 'resource.id'"),
        ({"id": ""}, str, "missing field 'resource.id'"),
        ({"id": 7}, str, "field 'resource.id' has the wrong type"),
        ({"id": True}, int, "field 'resource.id' has the wrong type"),
        ({"id": "7"}, int, "field 'resource.id' has the wrong type"),
    ],
)
def test_a_missing_or_mistyped_field_is_an_invalid_webhook_naming_its_path(
    data: dict[str, Any], kind: type, message: str
) -> None:
    with pytest.raises(errors.InvalidWebhook, match=message) as raised:
        required(data, "id", kind, "resource.id")
    assert raised.value.details == {"field": "resource.id"}
