"""PayPal webhook verification (certificate URL, certificate, RSA signature): `gateways.paypal.verify`."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling_simulators import _paypal_state as sim
from tests.unit.billing.gateways.samples import PAYPAL_CAPTURE_COMPLETED as BODY

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
WEBHOOK_ID = "1JE4291016473214C"
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
TIME = "2026-11-26T07:00:00Z"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return sim.new_key()


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    return pem(
        sim.make_certificate(
            key,
            common_name="messageverificationcerts.sandbox.paypal.com",
            not_before=NOW - timedelta(days=1),
            not_after=NOW + timedelta(days=30),
        )
    )


def signed(
    key: rsa.RSAPrivateKey,
    body: bytes = BODY,
    *,
    webhook_id: str = WEBHOOK_ID,
    algorithm: hashes.HashAlgorithm | None = None,
    **overrides: str,
) -> dict[str, str]:
    """Sign like PayPal, written out here independently of both modules under test."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    tid = overrides.pop("tid", "89556ce0-4d55-11ee-9f56-dd5f48f22b28")
    message = f"{tid}|{TIME}|{webhook_id}|{crc}".encode()
    sig = key.sign(message, padding.PKCS1v15(), algorithm or hashes.SHA256())
    headers = {
        "PAYPAL-TRANSMISSION-ID": tid,
        "PAYPAL-TRANSMISSION-TIME": TIME,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode(),
        "PAYPAL-CERT-URL": CERT_URL,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    headers.update(overrides)
    return headers


def reject(headers: dict[str, str], cert: bytes, body: bytes = BODY, **kw: Any) -> str:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_verify.verify(
            headers, body, kw.pop("webhook_id", WEBHOOK_ID), cert, kw.pop("now", NOW), **kw
        )
    return info.value.message


# --- verify: the good path ------------------------------------------------------------


def test_good_signature_verifies_and_returns_the_transmission(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    found = paypal_verify.verify(signed(key), BODY, WEBHOOK_ID, cert_pem, NOW)
    assert found == paypal_verify.Transmission(
        id="89556ce0-4d55-11ee-9f56-dd5f48f22b28",
        time=TIME,
        sig=signed(key)["PAYPAL-TRANSMISSION-SIG"],
        cert_url=CERT_URL,
        auth_algo="SHA256withRSA",
    )
    assert found.sent_at == NOW


def test_header_names_are_case_insensitive(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    lowered = {k.lower(): v for k, v in signed(key).items()}
    paypal_verify.verify(lowered, BODY, WEBHOOK_ID, cert_pem, NOW)


def test_crc_is_written_as_an_unsigned_decimal(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    body = next(b for b in (b'{"n":%d}' % n for n in range(1000)) if zlib.crc32(b) >= 2**31)
    paypal_verify.verify(signed(key, body), body, WEBHOOK_ID, cert_pem, NOW)
    # A signer that wrote the CRC as a signed 32-bit integer would not verify.
    crc_signed = zlib.crc32(body) - 2**32
    message = f"t1|{TIME}|{WEBHOOK_ID}|{crc_signed}".encode()
    sig = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = signed(key, body, tid="t1") | {"PAYPAL-TRANSMISSION-SIG": sig}
    assert reject(headers, cert_pem, body) == "signature does not match"


def test_extra_chain_certificates_are_ignored(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    other = sim.make_certificate(
        sim.new_key(), common_name="Some CA", not_before=NOW, not_after=NOW + timedelta(days=1)
    )
    paypal_verify.verify(signed(key), BODY, WEBHOOK_ID, cert_pem + pem(other), NOW)


def test_transmission_time_is_not_a_freshness_window(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    # §3.5: no documented window; a valid old transmission is deduped, not rejected here.
    paypal_verify.verify(
        signed(key),
        BODY,
        WEBHOOK_ID,
        cert_pem,
        NOW + timedelta(days=20),
    )


# --- verify: forgeries ----------------------------------------------------------------


def test_body_tampered_by_one_byte_is_rejected(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    tampered = BODY.replace(b"19.99", b"19.98")
    assert len(tampered) == len(BODY)
    assert reject(signed(key), cert_pem, tampered) == "signature does not match"


def test_reserialised_json_is_rejected(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert reserialised != BODY
    assert reject(signed(key), cert_pem, reserialised) == "signature does not match"


def test_signature_for_another_webhook_is_rejected(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    headers = signed(key, webhook_id="OTHERWEBHOOK0001")
    assert reject(headers, cert_pem) == "signature does not match"


def test_other_key_with_a_valid_paypal_looking_cert_is_rejected(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    assert reject(signed(sim.new_key()), cert_pem) == "signature does not match"


def test_changed_transmission_id_or_time_is_rejected(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    headers = signed(key)
    assert reject(headers | {"PAYPAL-TRANSMISSION-ID": "x"}, cert_pem) == "signature does not match"
    # The time is signed verbatim: an equal instant written differently does not verify.
    same_instant = headers | {"PAYPAL-TRANSMISSION-TIME": "2026-11-26T07:00:00+00:00"}
    assert reject(same_instant, cert_pem) == "signature does not match"


@pytest.mark.parametrize("algo", ["SHA1withRSA", "sha256withrsa", "SHA512withRSA", "none"])
def test_algorithms_other_than_sha256_with_rsa_are_refused(
    key: rsa.RSAPrivateKey, cert_pem: bytes, algo: str
) -> None:
    message = reject(signed(key) | {"PAYPAL-AUTH-ALGO": algo}, cert_pem)
    assert message == f"unsupported PAYPAL-AUTH-ALGO {algo!r}; only SHA256withRSA"


def test_sha1_signature_does_not_pass_as_sha256(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    headers = signed(key, algorithm=hashes.SHA1())  # noqa: S303 - the forgery under test
    assert reject(headers, cert_pem) == "signature does not match"


@pytest.mark.parametrize("name", paypal_verify.HEADERS)
def test_each_missing_header_is_named(key: rsa.RSAPrivateKey, cert_pem: bytes, name: str) -> None:
    headers = {k: v for k, v in signed(key).items() if k != name}
    assert reject(headers, cert_pem) == f"missing header {name}"
    assert reject(signed(key) | {name: ""}, cert_pem) == f"missing header {name}"


def test_signature_that_is_not_base64(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    headers = signed(key) | {"PAYPAL-TRANSMISSION-SIG": "not base64!"}
    assert reject(headers, cert_pem) == "PAYPAL-TRANSMISSION-SIG is not base64"


def test_certificate_url_on_a_foreign_host_is_refused_before_the_certificate_is_used(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    foreign = "https://api.paypal.com.evil.test/v1/notifications/certs/CERT-1"
    message = reject(signed(key) | {"PAYPAL-CERT-URL": foreign}, cert_pem)
    assert (
        message == "certificate URL refused: host 'api.paypal.com.evil.test' is not a PayPal host"
    )


def test_injected_host_allows_the_simulators_test_host(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    url = f"https://{sim.SIM_CERT_HOST}/v1/notifications/certs/CERT-1"
    headers = signed(key) | {"PAYPAL-CERT-URL": url}
    assert "not a PayPal host" in reject(headers, cert_pem)
    paypal_verify.verify(
        headers,
        BODY,
        WEBHOOK_ID,
        cert_pem,
        NOW,
        cert_hosts={sim.SIM_CERT_HOST},
    )


# --- verify: the certificate ----------------------------------------------------------


def cert_for(key: rsa.RSAPrivateKey, **kw: Any) -> bytes:
    options: dict[str, Any] = {
        "common_name": "messageverificationcerts.paypal.com",
        "not_before": NOW - timedelta(days=1),
        "not_after": NOW + timedelta(days=1),
    }
    return pem(sim.make_certificate(key, **(options | kw)))


def test_expired_certificate_is_refused(key: rsa.RSAPrivateKey) -> None:
    cert = cert_for(key, not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(seconds=1))
    assert reject(signed(key), cert) == "certificate has expired"


def test_not_yet_valid_certificate_is_refused(key: rsa.RSAPrivateKey) -> None:
    cert = cert_for(key, not_before=NOW + timedelta(seconds=1))
    assert reject(signed(key), cert) == "certificate is not yet valid"


def test_validity_bounds_are_inclusive(key: rsa.RSAPrivateKey) -> None:
    paypal_verify.verify(
        signed(key),
        BODY,
        WEBHOOK_ID,
        cert_for(key, not_before=NOW),
        NOW,
    )
    paypal_verify.verify(signed(key), BODY, WEBHOOK_ID, cert_for(key, not_after=NOW), NOW)


@pytest.mark.parametrize(
    "common_name",
    [
        "evil.test",
        "messageverificationcerts.paypal.com.evil.test",
        "messageverificationcerts.paypal.comm",
        "notpaypal.com",
        "paypal.com",
    ],
)
def test_certificate_with_a_foreign_common_name_is_refused(
    key: rsa.RSAPrivateKey, common_name: str
) -> None:
    cert = cert_for(key, common_name=common_name)
    assert reject(signed(key), cert) == "certificate subject is not a PayPal name"


def test_certificate_without_a_common_name_is_refused(key: rsa.RSAPrivateKey) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PayPal, Inc.")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert reject(signed(key), pem(cert)) == "certificate subject is not a PayPal name"


def test_accepted_names_are_injectable(key: rsa.RSAPrivateKey) -> None:
    cert = cert_for(key, common_name="messageverificationcerts.sandbox.paypal.com")
    exact = {"messageverificationcerts.paypal.com"}
    message = reject(signed(key), cert, cert_names=exact)
    assert message == "certificate subject is not a PayPal name"
    paypal_verify.verify(
        signed(key),
        BODY,
        WEBHOOK_ID,
        cert_for(key),
        NOW,
        cert_names=exact,
    )


def test_non_pem_certificate_is_refused(key: rsa.RSAPrivateKey) -> None:
    for junk in (b"", b"<html>hello</html>", b"-----BEGIN CERTIFICATE-----\nAAAA\n"):
        assert reject(signed(key), junk) == "certificate is not a PEM X.509 certificate"


def test_non_rsa_and_short_rsa_keys_are_refused(key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.com")]
    )
    ec_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ec_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(ec_key, hashes.SHA256())
    )
    assert reject(signed(key), pem(ec_cert)) == "certificate key is not RSA of at least 2048 bits"
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    message = reject(signed(short), cert_for(short))
    assert message == "certificate key is not RSA of at least 2048 bits"


def test_missing_webhook_id_is_a_settings_error(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    with pytest.raises(errors.InvalidSettings):
        paypal_verify.verify(signed(key), BODY, "", cert_pem, NOW)


def test_naive_now_is_our_bug(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    with pytest.raises(errors.InvariantViolation):
        paypal_verify.verify(
            signed(key),
            BODY,
            WEBHOOK_ID,
            cert_pem,
            NOW.replace(tzinfo=None),
        )


def test_errors_never_echo_the_webhook_id_or_the_signature(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    headers = signed(key, webhook_id="OTHER")
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_verify.verify(headers, BODY, WEBHOOK_ID, cert_pem, NOW)
    dumped = json.dumps(info.value.to_dict())
    assert WEBHOOK_ID not in dumped
    assert headers["PAYPAL-TRANSMISSION-SIG"] not in dumped
    assert info.value.details == {"transmission_id": "89556ce0-4d55-11ee-9f56-dd5f48f22b28"}


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-11-26T07:00:00Z", NOW),
        ("2026-11-26T08:00:00+01:00", NOW),
        ("2026-11-26T07:00:00", None),
        ("yesterday", None),
    ],
)
def test_sent_at(time: str, expected: datetime | None) -> None:
    assert paypal_verify.Transmission("t", time, "s", CERT_URL, "SHA256withRSA").sent_at == expected


# --- check_cert_url -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1a5f47cb",
        "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
        "https://API.PayPal.com/v1/notifications/certs/CERT-1",
    ],
)
def test_paypal_cert_urls_are_accepted(url: str) -> None:
    assert paypal_verify.check_cert_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://api.paypal.com.evil.test/v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://paypal.com.evil.test/v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://evil.test/paypal.com/v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://evil.test/v1/notifications/certs/api.paypal.com", "not a PayPal host"),
        ("https://evilapi.paypal.com/v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://paypal.com/v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://api.paypal.com./v1/notifications/certs/CERT-1", "not a PayPal host"),
        ("https://user@paypal.com@evil.test/v1/notifications/certs/CERT-1", "characters"),
        ("https://api.paypal.com@evil.test/v1/notifications/certs/CERT-1", "characters"),
        ("https://evil.test@api.paypal.com/v1/notifications/certs/CERT-1", "characters"),
        ("https://api.paypal.com\\@evil.test/v1/notifications/certs/CERT-1", "characters"),
        ("https://api.paypal.com%2eevil.test/v1/notifications/certs/CERT-1", "characters"),
        ("https://api.paypal.com/v1/notifications/certs/CERT-1?u=https://evil.test", "characters"),
        ("https://api.paypal.com/v1/notifications/certs/CERT-1#x", "characters"),
        ("https://api.paypal.com/v1/notifications/certs/CERT 1", "characters"),
        ("https://\u0430pi.paypal.com/v1/notifications/certs/CERT-1", "characters"),
        ("", "characters"),
        ("http://api.paypal.com/v1/notifications/certs/CERT-1", "not https"),
        ("ftp://api.paypal.com/v1/notifications/certs/CERT-1", "not https"),
        ("//api.paypal.com/v1/notifications/certs/CERT-1", "not https"),
        ("https://api.paypal.com:8443/v1/notifications/certs/CERT-1", "port"),
        ("https://api.paypal.com:/v1/notifications/certs/CERT-1", "port"),
        ("https://[::1]/v1/notifications/certs/CERT-1", "malformed host"),
        ("https:///v1/notifications/certs/CERT-1", "malformed host"),
        ("https://api.paypal.com/v1/notifications/webhooks/CERT-1", "path"),
        ("https://api.paypal.com/v1/notifications/certs/", "path"),
        ("https://api.paypal.com/v1/notifications/certs/..", "path"),
        ("https://api.paypal.com/v1/notifications/certs/../../../evil", "path"),
        ("https://api.paypal.com/v1/notifications/certs/CERT-1/more", "path"),
        ("https://api.paypal.com//v1/notifications/certs/CERT-1", "path"),
    ],
)
def test_foreign_and_tricky_cert_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(errors.InvalidWebhook, match="certificate URL refused") as info:
        paypal_verify.check_cert_url(url)
    assert why in info.value.message


def test_allowed_hosts_are_injectable_and_suffix_entries_need_a_label() -> None:
    test_host = "https://api.sandbox.paypal.test/v1/notifications/certs/CERT-1"
    assert paypal_verify.check_cert_url(test_host, {"api.sandbox.paypal.test"}) == test_host
    assert paypal_verify.check_cert_url(test_host, {".paypal.test"}) == test_host
    for url in (
        "https://paypal.test/v1/notifications/certs/CERT-1",
        "https://evilpaypal.test/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/notifications/certs/CERT-1",
    ):
        with pytest.raises(errors.InvalidWebhook, match="not a PayPal host"):
            paypal_verify.check_cert_url(url, {".paypal.test"})
