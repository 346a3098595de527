"""Mollie next-gen webhook signatures: `gateways.mollie.verify`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from tests.unit.billing.gateways.samples import MOLLIE_EVENT as EVENT

SECRET = "whsec_nextgen_current_0123456789"
OLD_SECRET = "whsec_nextgen_previous_0123456789"


def invalid(call: Any, *args: Any, **kwargs: Any) -> errors.InvalidWebhook:
    with pytest.raises(errors.InvalidWebhook) as info:
        call(*args, **kwargs)
    return info.value


# --- next-gen signatures --------------------------------------------------------------


def test_signature_matches_an_independent_computation() -> None:
    expected = hmac.new(SECRET.encode(), EVENT, hashlib.sha256).hexdigest()
    assert mollie_verify.sign(EVENT, SECRET) == f"sha256={expected}"


def test_valid_signature_passes() -> None:
    mollie_verify.verify_signature(EVENT, mollie_verify.sign(EVENT, SECRET), [SECRET])


def test_bare_hex_without_the_prefix_passes() -> None:
    bare = mollie_verify.sign(EVENT, SECRET).removeprefix("sha256=")
    mollie_verify.verify_signature(EVENT, bare, [SECRET])


def test_upper_case_hex_passes() -> None:
    upper = "sha256=" + mollie_verify.sign(EVENT, SECRET).removeprefix("sha256=").upper()
    mollie_verify.verify_signature(EVENT, upper, [SECRET])


def test_one_header_per_secret_during_mollie_rotation() -> None:
    headers = [
        mollie_verify.sign(EVENT, "whsec_not_ours"),
        mollie_verify.sign(EVENT, SECRET),
    ]
    mollie_verify.verify_signature(EVENT, headers, [SECRET])


def test_folded_repeated_headers_pass() -> None:
    folded = f"{mollie_verify.sign(EVENT, 'whsec_not_ours')}, {mollie_verify.sign(EVENT, SECRET)}"
    mollie_verify.verify_signature(EVENT, folded, [SECRET])


def test_our_previous_secret_still_verifies() -> None:
    mollie_verify.verify_signature(
        EVENT,
        [mollie_verify.sign(EVENT, OLD_SECRET)],
        [SECRET, OLD_SECRET],
    )


def test_body_tampered_by_one_byte_is_rejected() -> None:
    header = mollie_verify.sign(EVENT, SECRET)
    tampered = EVENT.replace(b"payment.paid", b"payment.pai_")
    assert len(tampered) == len(EVENT)
    assert invalid(mollie_verify.verify_signature, tampered, header, [SECRET]).message == (
        "no signature matches"
    )


def test_reserialised_json_is_rejected() -> None:
    reserialised = json.dumps(json.loads(EVENT)).encode()
    assert reserialised != EVENT
    header = mollie_verify.sign(EVENT, SECRET)
    assert invalid(mollie_verify.verify_signature, reserialised, header, [SECRET]).message == (
        "no signature matches"
    )


def test_wrong_secret_is_rejected_without_leaking_it() -> None:
    error = invalid(
        mollie_verify.verify_signature,
        EVENT,
        mollie_verify.sign(EVENT, "whsec_x"),
        [SECRET],
    )
    assert error.message == "no signature matches"
    assert error.details == {"signatures": 1, "secrets_tried": 1}
    assert SECRET not in json.dumps(error.to_dict())


@pytest.mark.parametrize("header", ["sha1=" + "0" * 40, "sha256=", "sha256=\u00e9\u00e9", "zz"])
def test_other_schemes_and_garbage_are_mismatches(header: str) -> None:
    assert invalid(mollie_verify.verify_signature, EVENT, header, [SECRET]).message == (
        "no signature matches"
    )


@pytest.mark.parametrize("header", [None, "", "  ", [], [""], [" , "]])
def test_missing_header_is_rejected(header: str | list[str] | None) -> None:
    assert invalid(mollie_verify.verify_signature, EVENT, header, [SECRET]).message == (
        "missing X-Mollie-Signature header"
    )


def test_no_configured_secret_is_a_settings_error() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie_verify.verify_signature(EVENT, mollie_verify.sign(EVENT, SECRET), [])
