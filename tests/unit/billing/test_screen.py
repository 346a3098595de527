"""Each gateway's `screen`: what it refuses before a body is stored in full, and what it proves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways import coingate as coingate_gateway
from fluxbilling.billing.gateways import mollie as mollie_gateway
from fluxbilling.billing.gateways import paypal as paypal_gateway
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling.billing.gateways.stripe import StripeGateway
from fluxbilling.billing.gateways.stripe import verify as stripe_verify

pytestmark = pytest.mark.anyio
NOW = 1_764_140_000.0
SECRET = "whsec_screen0123456789"
DEEP = b"[" * 5000 + b"]" * 5000


def test_stripe_proves_a_signed_delivery_and_refuses_the_rest() -> None:
    gateway = StripeGateway([SECRET])
    body = b'{"id": "evt_1"}'
    signed = {"Stripe-Signature": stripe_verify.sign(body, SECRET, int(NOW))}
    assert gateway.screen(body, signed, now=NOW) is True
    for headers in ({}, {"Stripe-Signature": stripe_verify.sign(body, "whsec_other", int(NOW))}):
        with pytest.raises(errors.InvalidWebhook):
            gateway.screen(body, headers, now=NOW)
    with pytest.raises(errors.InvalidWebhook, match="tolerance"):
        gateway.screen(body, signed, now=NOW + 301)


@pytest.fixture
async def mollie_with_secret() -> AsyncIterator[mollie_gateway.MollieGateway]:
    gateway = mollie_gateway.connect("test_screen0key", webhook_secrets=["s3cret"])
    yield gateway
    await gateway.aclose()


async def test_mollie_proves_a_signed_event_and_leaves_a_ping_to_the_refetch(
    mollie_with_secret: mollie_gateway.MollieGateway,
) -> None:
    gateway = mollie_with_secret
    event = b'{"resource": "event", "id": "event_1"}'
    signed = {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(event, "s3cret")}
    assert gateway.screen(event, signed, now=NOW) is True
    ping = {"Content-Type": "application/x-www-form-urlencoded"}
    assert gateway.screen(b"id=tr_WDqYK6vllg", ping, now=NOW) is False
    for body, headers in (
        (event, {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(event, "other")}),
        (b"id=tr_x&extra=1", ping),
        (DEEP, {"Content-Type": "application/json"}),
    ):
        with pytest.raises(errors.InvalidWebhook):
            gateway.screen(body, headers, now=NOW)


async def test_mollie_without_a_next_gen_secret_refuses_any_signature() -> None:
    gateway = mollie_gateway.connect("test_screen0key")
    body = b'{"resource": "event"}'
    with pytest.raises(errors.InvalidWebhook, match="no next-gen webhook secret"):
        gateway.screen(body, {"x-mollie-signature": "sha256=00"}, now=NOW)
    await gateway.aclose()


async def test_coingate_checks_the_shape_only() -> None:
    gateway = coingate_gateway.connect("tok", sandbox=True, token_secret="hmac-key")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert gateway.screen(b"id=5&order_id=7&status=paid&token=t", form, now=NOW) is False
    with pytest.raises(errors.InvalidWebhook):
        gateway.screen(b"id=0&order_id=7&status=paid", form, now=NOW)
    # The parser checks the depth before parsing (limits.loads_json): refused by name.
    body = json.dumps({"id": 5}).encode()[:-1] + b', "x": ' + DEEP + b"}"
    with pytest.raises(errors.InvalidWebhook, match="nested deeper than 64 levels"):
        gateway.screen(body, {"Content-Type": "application/json"}, now=NOW)
    await gateway.aclose()


async def test_paypal_checks_headers_and_the_certificate_host_before_any_fetch() -> None:
    gateway = paypal_gateway.connect("id", "secret", webhook_id="WH-1", livemode=False)
    headers = {
        "PAYPAL-TRANSMISSION-ID": "t-1",
        "PAYPAL-TRANSMISSION-TIME": "2026-11-26T10:00:00Z",
        "PAYPAL-TRANSMISSION-SIG": "c2ln",
        "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-1",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    assert gateway.screen(b"{}", headers, now=NOW) is False
    assert gateway.certs.fetches == 0
    for changed in (
        {"PAYPAL-CERT-URL": "https://evil.example/v1/notifications/certs/CERT-1"},
        {"PAYPAL-AUTH-ALGO": "SHA1withRSA"},
        {"PAYPAL-TRANSMISSION-SIG": ""},
    ):
        with pytest.raises(errors.InvalidWebhook):
            gateway.screen(b"{}", {**headers, **changed}, now=NOW)
    await gateway.aclose()
