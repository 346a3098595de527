"""Properties of the four gateways' webhook parsers and verifiers: hostile input is refused.

Whatever bytes, headers and JSON arrive, the parsers and verifiers of Stripe, Mollie, PayPal
and CoinGate answer a result or `errors.InvalidWebhook` naming what is wrong — also for a
body nested deeper than the parser could follow (`limits.loads_json` checks the depth
before parsing). A genuine signed Stripe delivery with any one byte changed is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxbilling import errors
from fluxbilling.billing.gateway import Attempt, Gateway
from fluxbilling.billing.gateways import coingate as coingate_gateway
from fluxbilling.billing.gateways import mollie as mollie_gateway
from fluxbilling.billing.gateways import paypal as paypal_gateway
from fluxbilling.billing.gateways.coingate import verify as coingate_verify
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling.billing.gateways.paypal import events as paypal_events
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling.billing.gateways.stripe import StripeGateway
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from tests.propertysupport import BOUNDED, json_bytes, json_values

SECRET = "whsec_property_secret"
NOW = 1_795_000_000
HEADER_TEXT = st.text(max_size=40) | st.text(alphabet="tv01=,abcdef9 ", max_size=40)
HEADER_NAMES = st.sampled_from(
    [
        stripe_verify.SIGNATURE_HEADER,
        mollie_verify.SIGNATURE_HEADER,
        "Content-Type",
        *paypal_verify.HEADERS,
    ]
) | st.text(min_size=1, max_size=10)
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_TEXT, max_size=6)
CONTENT_TYPES = (
    st.none()
    | st.sampled_from(["application/json", "application/x-www-form-urlencoded; charset=utf-8", ""])
    | st.text(max_size=20)
)


def refused_or(call: Callable[[], Any]) -> Any:
    """`call()`'s result, or None when it was refused (anything else fails the property)."""
    try:
        return call()
    except errors.InvalidWebhook as exc:
        assert exc.message
        return None


# -- Stripe ----------------------------------------------------------------------------------

STRIPE_HEADERS = st.one_of(
    st.none(),
    HEADER_TEXT,
    st.builds(
        lambda t, sigs: f"t={t}," + ",".join(f"v1={s}" for s in sigs),
        st.integers(0, 10**6) | st.integers(1, 6000).map(lambda n: "9" * n) | st.text(max_size=5),
        st.lists(st.text(alphabet="0123456789abcdef", max_size=64), max_size=3),
    ),
)


@settings(BOUNDED, max_examples=200)
@given(body=json_bytes, header=STRIPE_HEADERS, now=st.integers(-(2**40), 2**40))
def test_stripe_signatures_are_checked_or_refused(
    body: bytes, header: str | None, now: int
) -> None:
    refused_or(lambda: stripe_verify.verify_signature(body, header, [SECRET], now=now))


@settings(BOUNDED, max_examples=200)
@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_a_signed_stripe_payload_with_one_byte_changed_is_refused(
    body: bytes, data: st.DataObject
) -> None:
    header = stripe_verify.sign(body, SECRET, NOW)
    stripe_verify.verify_signature(body, header, [SECRET], now=NOW)  # genuine: accepted
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(errors.InvalidWebhook, match="no signature matches"):
        stripe_verify.verify_signature(changed, header, [SECRET], now=NOW)
    at = data.draw(st.integers(len(header) - 64, len(header) - 1))
    other = data.draw(st.sampled_from("0123456789abcdef").filter(lambda c: c != header[at]))
    with pytest.raises(errors.InvalidWebhook, match="no signature matches"):
        stripe_verify.verify_signature(
            body, header[:at] + other + header[at + 1 :], [SECRET], now=NOW
        )


def envelope(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """JSON objects with the event's fields, each one present or not, right or wrong."""
    return st.fixed_dictionaries(
        {}, optional={k: v | json_values(max_leaves=3) for k, v in keys.items()}
    ).map(lambda d: json.dumps(d).encode())


STRIPE_EVENTS = envelope(
    {
        "id": st.just("evt_1"),
        "type": st.sampled_from(["checkout.session.completed", "charge.refunded", "x"]),
        "livemode": st.booleans(),
        "created": st.integers(),
        "data": st.fixed_dictionaries({"object": json_values(max_leaves=8)}),
    }
)


@settings(BOUNDED, max_examples=200)
@given(body=json_bytes | STRIPE_EVENTS)
def test_stripe_events_parse_and_classify_or_are_refused(body: bytes) -> None:
    event = refused_or(lambda: stripe_events.parse_event(body))
    if event is not None:
        refused_or(lambda: stripe_events.classify(event))


# -- Mollie ----------------------------------------------------------------------------------

FORMS = st.lists(
    st.tuples(st.sampled_from(["id", "x", "id[]"]), st.text(max_size=12)), max_size=3
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass"))


@settings(BOUNDED, max_examples=150)
@given(
    body=json_bytes | FORMS,
    content_type=CONTENT_TYPES,
    signatures=st.none() | HEADER_TEXT | st.lists(HEADER_TEXT, max_size=3),
)
def test_mollie_notifications_and_signatures_are_checked_or_refused(
    body: bytes, content_type: str | None, signatures: str | list[str] | None
) -> None:
    refused_or(lambda: mollie_events.parse_notification(body, content_type))
    refused_or(lambda: mollie_verify.verify_signature(body, signatures, ["mollie-secret"]))


MOLLIE_EVENTS = envelope(
    {
        "resource": st.just("event"),
        "id": st.just("event_1"),
        "type": st.just("payment-link.paid"),
        "entityId": st.just("tr_1"),
        "createdAt": st.just("2026-01-01T00:00:00+00:00"),
        "_embedded": st.fixed_dictionaries({"entity": json_values(max_leaves=6)}),
    }
)
AMOUNTS = st.fixed_dictionaries(
    {},
    optional={
        "value": st.text(alphabet="0123456789.-e", max_size=8) | st.text(max_size=5),
        "currency": st.sampled_from(["EUR", "JPY", "eur", "XXX"]) | st.text(max_size=4),
    },
)
PAYMENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("tr_1") | st.text(max_size=5),
        "status": st.sampled_from(["paid", "open", "failed", "expired", "canceled"]),
        "amount": AMOUNTS,
        "amountRefunded": AMOUNTS,
        "amountChargedBack": AMOUNTS,
        "metadata": json_values(max_leaves=3),
        "mode": st.sampled_from(["live", "test"]),
        "_embedded": json_values(max_leaves=6),
    },
)


@settings(BOUNDED, max_examples=150)
@given(body=json_bytes | MOLLIE_EVENTS, payment=PAYMENTS | json_values(max_leaves=8))
def test_mollie_events_and_payments_parse_or_are_refused(body: bytes, payment: Any) -> None:
    refused_or(lambda: mollie_events.parse_event(body))
    if isinstance(payment, dict):
        refused_or(lambda: mollie_events.classify(payment))


# -- PayPal ----------------------------------------------------------------------------------

CERT_URLS = st.text(max_size=60) | st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            [
                "https://",
                "http://",
                "api.paypal.com",
                "[",
                "]",
                ":443",
                ":8",
                "/v1/notifications/certs/",
                "CERT-1",
                "..",
                "@",
                ".",
                "evil.test",
                "/",
            ]
        ),
        max_size=6,
    ),
)


@settings(BOUNDED, max_examples=200)
@given(
    values=st.lists(
        HEADER_TEXT | CERT_URLS | st.just(paypal_verify.AUTH_ALGO), min_size=5, max_size=5
    ),
    extra=HEADERS,
    body=json_bytes,
    pem=st.binary(max_size=200)
    | st.text(max_size=40).map(
        lambda t: f"-----BEGIN CERTIFICATE-----\n{t}\n-----END CERTIFICATE-----\n".encode()
    ),
)
def test_paypal_transmissions_are_verified_or_refused(
    values: list[str], extra: dict[str, str], body: bytes, pem: bytes
) -> None:
    headers = {**extra, **dict(zip(paypal_verify.HEADERS, values, strict=True))}
    refused_or(lambda: paypal_verify.read_transmission(headers))
    refused_or(lambda: paypal_verify.check_cert_url(values[3]))
    refused_or(
        lambda: paypal_verify.verify(headers, body, "WH-1", pem, datetime.fromtimestamp(NOW, UTC))
    )


@settings(BOUNDED, max_examples=300)
@given(url=CERT_URLS)
def test_paypal_certificate_urls_are_accepted_or_refused(url: str) -> None:
    accepted = refused_or(lambda: paypal_verify.check_cert_url(url))
    assert accepted is None or accepted == url


PAYPAL_EVENTS = envelope(
    {
        "id": st.just("WH-1"),
        "event_type": st.sampled_from(
            [
                "PAYMENT.CAPTURE.COMPLETED",
                "PAYMENT.CAPTURE.REFUNDED",
                "CHECKOUT.ORDER.APPROVED",
                "CUSTOMER.DISPUTE.CREATED",
                "OTHER",
            ]
        ),
        "resource_type": st.sampled_from(["capture", "refund", "checkout-order", "dispute"]),
        "resource": json_values(max_leaves=10).filter(lambda v: isinstance(v, dict))
        | st.fixed_dictionaries(
            {},
            optional={
                "id": st.just("CAP-1"),
                "amount": st.fixed_dictionaries(
                    {},
                    optional={"value": st.text(max_size=6), "currency_code": st.text(max_size=4)},
                ),
                "custom_id": st.text(max_size=4),
                "links": json_values(max_leaves=4),
                "supplementary_data": json_values(max_leaves=4),
                "purchase_units": json_values(max_leaves=6),
                "disputed_transactions": json_values(max_leaves=6),
            },
        ),
    }
)


@settings(BOUNDED, max_examples=200)
@given(body=json_bytes | PAYPAL_EVENTS, livemode=st.booleans())
def test_paypal_events_parse_and_classify_or_are_refused(body: bytes, livemode: bool) -> None:
    event = refused_or(lambda: paypal_events.parse_event(body))
    if event is not None:
        refused_or(lambda: paypal_events.classify(event, livemode=livemode))


# -- CoinGate --------------------------------------------------------------------------------

CALLBACK_FORMS = st.dictionaries(
    st.sampled_from(["id", "order_id", "status", "token", "fees[][x]"]) | st.text(max_size=4),
    st.text(max_size=8) | st.integers(1, 6000).map(lambda n: "9" * n),
    max_size=5,
)


@settings(BOUNDED, max_examples=200)
@given(
    body=json_bytes
    | CALLBACK_FORMS.map(lambda d: json.dumps(d).encode())
    | CALLBACK_FORMS.map(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()),
    content_type=CONTENT_TYPES,
    token=st.none() | st.text(max_size=10),
    expected=st.text(min_size=1, max_size=10),
)
def test_coingate_callbacks_parse_or_are_refused(
    body: bytes, content_type: str | None, token: str | None, expected: str
) -> None:
    refused_or(lambda: coingate_verify.parse_callback(body, content_type))
    refused_or(lambda: coingate_verify.check_token(token, expected))
    refused_or(
        lambda: coingate_verify.check_token(
            token, coingate_verify.hash_token(expected, "k"), secret="k"
        )
    )


# -- The gateways, end to end (the upstream knows nothing: every request answers 404) -------


def _nothing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"message": "not found"})


async def _no_attempt(gateway_ref: str) -> Attempt | None:
    return None


def _gateways(transport: httpx.MockTransport) -> list[Gateway]:
    return [
        StripeGateway([SECRET]),
        mollie_gateway.connect(
            "test_property", transport=transport, webhook_secrets=["mollie-secret"]
        ),
        paypal_gateway.connect(
            "client", "secret", webhook_id="WH-1", livemode=False, transport=transport
        ),
        coingate_gateway.connect("token", sandbox=True, token_secret="k", transport=transport),
    ]


async def _verify_everywhere(body: bytes, headers: dict[str, str]) -> None:
    gateways = _gateways(httpx.MockTransport(_nothing))
    try:
        for gateway in gateways:
            screened = refused_or(functools.partial(gateway.screen, body, headers, now=NOW))
            assert screened in (None, True, False)
            with contextlib.suppress(errors.InvalidWebhook):
                await gateway.verify(body, headers, now=float(NOW), attempts=_no_attempt)
    finally:
        for gateway in gateways:
            await gateway.aclose()


@settings(BOUNDED, max_examples=100)
@given(
    body=json_bytes | FORMS | CALLBACK_FORMS.map(lambda d: json.dumps(d).encode()),
    headers=HEADERS,
)
def test_every_gateway_verifies_or_refuses_what_anyone_posts(
    body: bytes, headers: dict[str, str]
) -> None:
    asyncio.run(_verify_everywhere(body, headers))
