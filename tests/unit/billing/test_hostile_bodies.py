"""Every gateway parser of an untrusted body refuses deep nesting by name, never with RecursionError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import verify as coingate_verify
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.paypal import events as paypal_events
from fluxbilling.billing.gateways.stripe import events as stripe_events

DEEP = b'{"id": "evt_1", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
"""A small body (200 KB, under the webhook limit) that `json.loads` cannot survive."""

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "stripe": stripe_events.parse_event,
    "mollie": mollie_events.parse_event,
    "paypal": paypal_events.parse_event,
    "coingate": lambda body: coingate_verify.parse_callback(body, "application/json"),
}


@pytest.mark.parametrize("gateway", sorted(PARSERS))
def test_a_deeply_nested_body_is_an_invalid_webhook(gateway: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as refused:
        PARSERS[gateway](DEEP)
    assert refused.value.message == "malformed JSON body: JSON nested deeper than 64 levels"


@pytest.mark.parametrize("gateway", sorted(PARSERS))
def test_a_body_that_is_not_utf8_is_an_invalid_webhook(gateway: str) -> None:
    with pytest.raises(errors.InvalidWebhook, match="malformed JSON body: JSON text is not UTF-8"):
        PARSERS[gateway]('{"id": "\u20ac"}'.encode("utf-16"))
