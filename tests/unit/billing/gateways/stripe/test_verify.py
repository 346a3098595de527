"""Stripe signature verification: `gateways.stripe.verify`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling_simulators import stripe as stripe_sim

SECRET = "whsec_current0123456789abcdef"
OLD_SECRET = "whsec_previous0123456789abcdef"
NOW = 1_764_140_000


@pytest.fixture
def body() -> bytes:
    return stripe_sim.checkout_completed(42, 1999, "EUR", event_id="evt_1", created=NOW)


def reject(body: bytes, header: str | None, secrets: list[str] | None = None, **kw: Any) -> str:
    with pytest.raises(errors.InvalidWebhook) as info:
        stripe_verify.verify_signature(
            body, header, secrets or [SECRET], now=kw.pop("now", NOW), **kw
        )
    return info.value.message


# --- verify_signature -----------------------------------------------------------------


def test_valid_signature_passes(body: bytes) -> None:
    stripe_verify.verify_signature(body, stripe_verify.sign(body, SECRET, NOW), [SECRET], now=NOW)


def test_signature_matches_an_independent_computation() -> None:
    expected = hmac.new(SECRET.encode(), b"100.{}", hashlib.sha256).hexdigest()
    assert stripe_verify.sign(b"{}", SECRET, 100) == f"t=100,v1={expected}"


def test_body_tampered_by_one_byte_is_rejected(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW)
    tampered = body.replace(b"1999", b"1998")
    assert reject(tampered, header) == "no signature matches"


def test_reserialised_json_is_rejected(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW)
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body
    assert reject(reserialised, header) == "no signature matches"


def test_wrong_secret_is_rejected(body: bytes) -> None:
    error_message = reject(body, stripe_verify.sign(body, "whsec_other", NOW))
    assert error_message == "no signature matches"
    assert SECRET not in error_message


def test_secret_is_not_base64_decoded(body: bytes) -> None:
    # The key is the literal string, prefix included.
    header = stripe_verify.sign(body, SECRET.removeprefix("whsec_"), NOW)
    assert reject(body, header) == "no signature matches"


def test_two_v1_values_during_stripe_rotation(body: bytes) -> None:
    header = stripe_verify.sign(body, "whsec_new_at_stripe", NOW, extra_secrets=[SECRET])
    assert header.count("v1=") == 2
    stripe_verify.verify_signature(body, header, [SECRET], now=NOW)


def test_our_previous_secret_still_verifies(body: bytes) -> None:
    header = stripe_verify.sign(body, OLD_SECRET, NOW)
    stripe_verify.verify_signature(body, header, [SECRET, OLD_SECRET], now=NOW)


def test_v0_only_header_is_rejected(body: bytes) -> None:
    v0 = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert reject(body, f"t={NOW},v0={v0}") == "no v1 signature in the header"


def test_other_schemes_are_ignored_next_to_v1(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW) + ",v0=deadbeef,scheme=x"
    stripe_verify.verify_signature(body, header, [SECRET], now=NOW)


def test_spaces_after_commas_are_tolerated(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW).replace(",", ", ")
    stripe_verify.verify_signature(body, header, [SECRET], now=NOW)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_rejected(body: bytes, header: str | None) -> None:
    assert reject(body, header) == "missing Stripe-Signature header"


def test_too_old_is_rejected(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW - 301)
    assert reject(body, header) == "timestamp outside the tolerance (301 s old)"


def test_exactly_at_the_tolerance_passes(body: bytes) -> None:
    stripe_verify.verify_signature(
        body, stripe_verify.sign(body, SECRET, NOW - 300), [SECRET], now=NOW
    )
    stripe_verify.verify_signature(
        body, stripe_verify.sign(body, SECRET, NOW + 300), [SECRET], now=NOW
    )


def test_too_far_in_the_future_is_rejected(body: bytes) -> None:
    header = stripe_verify.sign(body, SECRET, NOW + 75)
    message = reject(body, header, future_tolerance=60)
    assert message == "timestamp outside the tolerance (75 s in the future)"


def test_old_timestamp_with_wrong_signature_reports_the_signature(body: bytes) -> None:
    assert reject(body, stripe_verify.sign(body, "whsec_x", NOW - 9999)) == "no signature matches"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("garbage", "malformed header: an item has no 'key=value' form"),
        ("t=1,v1=ab,", "malformed header: an item has no 'key=value' form"),
        ("=x,t=1", "malformed header: an item has no 'key=value' form"),
        ("v1=abc", "malformed header: expected one timestamp 't', found 0"),
        ("t=1,t=2,v1=abc", "malformed header: expected one timestamp 't', found 2"),
        ("t=soon,v1=abc", "malformed header: the timestamp 't' is not an integer"),
        ("t=-5,v1=abc", "malformed header: the timestamp 't' is not an integer"),
    ],
)
def test_malformed_header_is_rejected(body: bytes, header: str, expected: str) -> None:
    assert reject(body, header) == expected


def test_non_ascii_signature_is_just_a_mismatch(body: bytes) -> None:
    assert reject(body, f"t={NOW},v1=\u00e9\u00e9") == "no signature matches"


def test_details_never_contain_secrets(body: bytes) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        stripe_verify.verify_signature(
            body, stripe_verify.sign(body, "whsec_x", NOW), [SECRET], now=NOW
        )
    assert info.value.details == {"v1_signatures": 1, "secrets_tried": 1}
    assert SECRET not in json.dumps(info.value.to_dict())


def test_no_configured_secret_is_a_settings_error(body: bytes) -> None:
    with pytest.raises(errors.InvalidSettings):
        stripe_verify.verify_signature(body, stripe_verify.sign(body, SECRET, NOW), [], now=NOW)


# --- simulator ------------------------------------------------------------------------


def test_signed_headers(body: bytes) -> None:
    headers = stripe_sim.signed_headers(body, SECRET, NOW)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    stripe_verify.verify_signature(body, headers["Stripe-Signature"], [SECRET], now=NOW)
