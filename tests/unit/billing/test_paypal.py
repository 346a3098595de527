"""PayPal certificate-URL checks, RSA signature verification, parsing and classification."""

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
from fluxbilling.billing import paypal
from fluxbilling_simulators import _paypal_state as sim

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
WEBHOOK_ID = "1JE4291016473214C"
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
TIME = "2026-11-26T07:00:00Z"
BODY = (
    b'{"id":"WH-36G56432PK518391U-9HW18392D95289106","event_type":"PAYMENT.CAPTURE.COMPLETED",'
    b'"resource_type":"capture","create_time":"2026-11-26T06:59:58.123Z","resource":{"id":'
    b'"7TK53561YB803214S","status":"COMPLETED","amount":{"currency_code":"EUR","value":"19.99"},'
    b'"custom_id":"INV-42","invoice_id":"INV-42"}}'
)


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
        paypal.verify(
            headers, body, kw.pop("webhook_id", WEBHOOK_ID), cert, kw.pop("now", NOW), **kw
        )
    return info.value.message


# --- verify: the good path -------------------------------------------------------------


def test_good_signature_verifies_and_returns_the_transmission(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    found = paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_pem, NOW)
    assert found == paypal.Transmission(
        id="89556ce0-4d55-11ee-9f56-dd5f48f22b28",
        time=TIME,
        sig=signed(key)["PAYPAL-TRANSMISSION-SIG"],
        cert_url=CERT_URL,
        auth_algo="SHA256withRSA",
    )
    assert found.sent_at == NOW


def test_header_names_are_case_insensitive(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    lowered = {k.lower(): v for k, v in signed(key).items()}
    paypal.verify(lowered, BODY, WEBHOOK_ID, cert_pem, NOW)


def test_crc_is_written_as_an_unsigned_decimal(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    body = next(b for b in (b'{"n":%d}' % n for n in range(1000)) if zlib.crc32(b) >= 2**31)
    paypal.verify(signed(key, body), body, WEBHOOK_ID, cert_pem, NOW)
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
    paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_pem + pem(other), NOW)


def test_transmission_time_is_not_a_freshness_window(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    # §3.5: no documented window; a valid old transmission is deduped, not rejected here.
    paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_pem, NOW + timedelta(days=20))


# --- verify: forgeries -----------------------------------------------------------------


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


@pytest.mark.parametrize("name", paypal.HEADERS)
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
    paypal.verify(headers, BODY, WEBHOOK_ID, cert_pem, NOW, cert_hosts={sim.SIM_CERT_HOST})


# --- verify: the certificate -----------------------------------------------------------


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
    paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_for(key, not_before=NOW), NOW)
    paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_for(key, not_after=NOW), NOW)


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
    paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_for(key), NOW, cert_names=exact)


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
        paypal.verify(signed(key), BODY, "", cert_pem, NOW)


def test_naive_now_is_our_bug(key: rsa.RSAPrivateKey, cert_pem: bytes) -> None:
    with pytest.raises(errors.InvariantViolation):
        paypal.verify(signed(key), BODY, WEBHOOK_ID, cert_pem, NOW.replace(tzinfo=None))


def test_errors_never_echo_the_webhook_id_or_the_signature(
    key: rsa.RSAPrivateKey, cert_pem: bytes
) -> None:
    headers = signed(key, webhook_id="OTHER")
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal.verify(headers, BODY, WEBHOOK_ID, cert_pem, NOW)
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
    assert paypal.Transmission("t", time, "s", CERT_URL, "SHA256withRSA").sent_at == expected


# --- check_cert_url --------------------------------------------------------------------


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
    assert paypal.check_cert_url(url) == url


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
        paypal.check_cert_url(url)
    assert why in info.value.message


def test_allowed_hosts_are_injectable_and_suffix_entries_need_a_label() -> None:
    test_host = "https://api.sandbox.paypal.test/v1/notifications/certs/CERT-1"
    assert paypal.check_cert_url(test_host, {"api.sandbox.paypal.test"}) == test_host
    assert paypal.check_cert_url(test_host, {".paypal.test"}) == test_host
    for url in (
        "https://paypal.test/v1/notifications/certs/CERT-1",
        "https://evilpaypal.test/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/notifications/certs/CERT-1",
    ):
        with pytest.raises(errors.InvalidWebhook, match="not a PayPal host"):
            paypal.check_cert_url(url, {".paypal.test"})


# --- parse_event -----------------------------------------------------------------------


def test_parse_event_reads_the_envelope() -> None:
    event = paypal.parse_event(BODY)
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
        paypal.parse_event(json.dumps(payload).encode())
    assert info.value.message == expected


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_parse_event_rejects_malformed_json(raw: bytes) -> None:
    with pytest.raises(errors.InvalidWebhook, match="malformed JSON body"):
        paypal.parse_event(raw)


# --- money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "value", "minor"),
    [
        ("EUR", "19.99", 1999),
        ("EUR", "19.9", 1990),
        ("EUR", "10", 1000),
        ("EUR", "0.01", 1),
        ("EUR", ".50", 50),
        ("JPY", "500", 500),
        ("HUF", "1000", 100000),
        ("KWD", "1.234", 1234),
        ("USD", "999999999999999.99", 99999999999999999),
    ],
)
def test_minor_units_use_the_iso_exponent(currency: str, value: str, minor: int) -> None:
    assert paypal.minor_units({"currency_code": currency, "value": value}) == (minor, currency)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (
            {"currency_code": "EUR", "value": "19.999"},
            "field 'a.value' has more decimals than EUR has",
        ),
        (
            {"currency_code": "JPY", "value": "500.5"},
            "field 'a.value' has more decimals than JPY has",
        ),
        (
            {"currency_code": "EUR", "value": "-5.00"},
            "field 'a.value' is not a non-negative decimal",
        ),
        ({"currency_code": "EUR", "value": "1e3"}, "field 'a.value' is not a non-negative decimal"),
        ({"currency_code": "EUR", "value": "NaN"}, "field 'a.value' is not a non-negative decimal"),
        ({"currency_code": "EUR", "value": 19.99}, "field 'a.value' has the wrong type"),
        ({"currency_code": "eur", "value": "1"}, "field 'a.currency_code' is not an ISO 4217 code"),
        ({"value": "1"}, "missing field 'a.currency_code'"),
        ({"currency_code": "EUR"}, "missing field 'a.value'"),
        (None, "missing field 'a'"),
    ],
)
def test_bad_money_is_named(amount: object, expected: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal.minor_units(amount, "a")
    assert info.value.message == expected


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [
        (1999, "eur", "19.99"),
        (5, "USD", "0.05"),
        (500, "JPY", "500"),
        (100000, "HUF", "1000"),
        (300, "TWD", "3"),
        (1234, "KWD", "1.234"),
    ],
)
def test_paypal_amount(minor: int, currency: str, value: str) -> None:
    assert paypal.paypal_amount(minor, currency) == {
        "currency_code": currency.upper(),
        "value": value,
    }


@pytest.mark.parametrize(("minor", "currency"), [(100050, "HUF"), (-1, "EUR"), (1, "EURO")])
def test_paypal_amount_refuses_what_paypal_cannot_take(minor: int, currency: str) -> None:
    with pytest.raises(errors.UserError):
        paypal.paypal_amount(minor, currency)


# --- classify --------------------------------------------------------------------------

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


def event(type_: str, resource: dict[str, Any]) -> paypal.PayPalEvent:
    return paypal.PayPalEvent("WH-1", type_, "", "", resource)


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
    fact = paypal.classify(event(type_, resource), livemode=True)
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id) == (kind, payment_id, alias)
    assert fact.gateway_object_id == object_id
    assert (fact.invoice_ref, fact.amount_minor, fact.currency, fact.livemode) == (
        ref,
        amount,
        currency,
        True,
    )


def test_refunds_and_disputes_name_the_alias_of_the_paid_fact() -> None:
    paid = paypal.classify(event("PAYMENT.CAPTURE.COMPLETED", CAPTURE), livemode=False)
    refund = paypal.classify(event("PAYMENT.CAPTURE.REFUNDED", REFUND), livemode=False)
    dispute = paypal.classify(event("CUSTOMER.DISPUTE.CREATED", DISPUTE), livemode=False)
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
    fact = paypal.fact_from_capture(capture, livemode=False)
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
        paypal.classify(event("PAYMENT.CAPTURE.COMPLETED", resource), livemode=False).livemode
        is False
    )


def test_invoice_id_is_the_fallback_reference() -> None:
    resource = {k: v for k, v in CAPTURE.items() if k != "custom_id"}
    assert (
        paypal.classify(event("PAYMENT.CAPTURE.COMPLETED", resource), livemode=False).invoice_ref
        == "INV-42-b"
    )
    bare = {k: v for k, v in resource.items() if k != "invoice_id"}
    assert (
        paypal.classify(event("PAYMENT.CAPTURE.COMPLETED", bare), livemode=False).invoice_ref
        is None
    )


def test_refund_without_an_up_link_names_itself() -> None:
    refund = REFUND | {"links": []}
    assert (
        paypal.classify(
            event("PAYMENT.CAPTURE.REFUNDED", refund), livemode=False
        ).gateway_payment_id
        == REFUND["id"]
    )


def test_dispute_without_transactions_names_itself() -> None:
    dispute = DISPUTE | {"disputed_transactions": []}
    fact = paypal.classify(event("CUSTOMER.DISPUTE.CREATED", dispute), livemode=False)
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
    via_order = paypal.classify(
        event("CHECKOUT.ORDER.COMPLETED", completed_order(in_order)), livemode=False
    )
    via_capture = paypal.classify(event("PAYMENT.CAPTURE.COMPLETED", CAPTURE), livemode=False)
    assert via_order == via_capture
    assert paypal.fact_from_order(completed_order(in_order), livemode=False) == via_capture


def test_completed_order_prefers_the_completed_capture() -> None:
    declined = CAPTURE | {"id": "DECLINED1", "status": "DECLINED"}
    fact = paypal.fact_from_order(completed_order(declined, CAPTURE), livemode=False)
    assert (fact.kind, fact.gateway_payment_id, fact.alias_id) == ("paid", ORD, CAP)
    only_declined = paypal.fact_from_order(completed_order(declined), livemode=False)
    assert (only_declined.kind, only_declined.alias_id) == ("failed", "DECLINED1")


def test_completed_order_without_captures_names_the_field() -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal.classify(event("CHECKOUT.ORDER.COMPLETED", completed_order()), livemode=False)
    assert info.value.details == {"field": "resource.purchase_units[0].payments.captures"}
    with pytest.raises(errors.InvalidWebhook):
        paypal.fact_from_order(completed_order("junk"), livemode=False)  # type: ignore[arg-type]


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
    fact = paypal.fact_from_order(ORDER | {"status": status}, livemode=True)
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
    assert paypal.fact_from_capture(CAPTURE | {"status": status}, livemode=False).kind == kind


def test_unknown_capture_status_is_named() -> None:
    with pytest.raises(errors.InvalidWebhook, match="unknown capture status 'VOIDED'"):
        paypal.fact_from_capture(CAPTURE | {"status": "VOIDED"}, livemode=False)


@pytest.mark.parametrize(
    "type_",
    ["PAYMENT.SALE.COMPLETED", "BILLING.SUBSCRIPTION.CREATED", "CHECKOUT.ORDER.SAVED", "X"],
)
def test_unknown_and_subscription_types_are_ignored(type_: str) -> None:
    fact = paypal.classify(event(type_, {"id": "S-1", "custom_id": "INV-1"}), livemode=True)
    assert fact == paypal.PaymentFact(
        kind="ignored",
        gateway_payment_id="S-1",
        invoice_ref="INV-1",
        amount_minor=0,
        currency="",
        livemode=True,
        gateway_object_id="S-1",
    )
    assert paypal.classify(event(type_, {}), livemode=False).gateway_payment_id == ""


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
        paypal.classify(event(type_, resource), livemode=False)
    assert info.value.details == {"field": field}


# --- facts_from_order ------------------------------------------------------------------

REVERSAL = REFUND | {"id": "8MC585209K746631H", "note_to_payer": "Payment reversed"}
IN_ORDER = without(CAPTURE, "supplementary_data")  # captures listed in an order carry none


def refunded_order(*refunds: Any, capture: dict[str, Any] = IN_ORDER) -> dict[str, Any]:
    order = completed_order(capture | {"status": "PARTIALLY_REFUNDED"})
    order["purchase_units"][0]["payments"]["refunds"] = list(refunds)
    return order


def test_a_fetched_refund_is_the_fact_its_webhook_states() -> None:
    order = refunded_order(REFUND, REVERSAL)
    paid, refund, reversal = paypal.facts_from_order(order, livemode=True)
    assert paid == paypal.fact_from_order(order, livemode=True)
    assert refund == paypal.classify(event("PAYMENT.CAPTURE.REFUNDED", REFUND), livemode=True)
    assert reversal == paypal.classify(event("PAYMENT.CAPTURE.REVERSED", REVERSAL), livemode=True)
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
    facts = paypal.facts_from_order(refunded_order(unfinished, REFUND), livemode=False)
    assert [(f.kind, f.gateway_object_id) for f in facts] == [
        ("paid", CAP),
        ("refund", REFUND["id"]),
    ]


def test_an_order_without_refunds_states_its_payment_alone() -> None:
    assert paypal.facts_from_order(completed_order(IN_ORDER), livemode=False) == [
        paypal.fact_from_order(completed_order(IN_ORDER), livemode=False)
    ]
    for status in ("CREATED", "APPROVED", "VOIDED"):
        [fact] = paypal.facts_from_order(ORDER | {"status": status}, livemode=False)
        assert fact.gateway_payment_id == ORD


def test_the_refunded_capture_wins_over_a_declined_attempt() -> None:
    declined = IN_ORDER | {"id": "DECLINED1", "status": "DECLINED"}
    refunded = IN_ORDER | {"status": "REFUNDED"}
    order = completed_order(declined, refunded)
    order["purchase_units"][0]["payments"]["refunds"] = [REFUND]
    paid, refund = paypal.facts_from_order(order, livemode=False)
    assert (paid.kind, paid.alias_id) == ("paid", CAP)
    assert refund.gateway_payment_id == CAP


def test_a_refund_entry_without_link_or_ids_takes_the_orders() -> None:
    bare = without(without(REFUND, "links"), "custom_id")
    _, refund = paypal.facts_from_order(refunded_order(bare), livemode=False)
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
        paypal.facts_from_order(order, livemode=False)
    assert info.value.details == {"field": field}


def test_related_order_id() -> None:
    assert paypal.related_order_id(CAPTURE) == "5O190127TN364715T"
    assert paypal.related_order_id({}) is None
    assert paypal.related_order_id({"supplementary_data": {"related_ids": []}}) is None


# --- order_request ---------------------------------------------------------------------


def test_order_request_carries_our_invoice_in_both_ids() -> None:
    assert paypal.order_request("INV-42", 1999, "eur", description="VPS S, 1 month") == {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": "default",
                "invoice_id": "INV-42",
                "custom_id": "INV-42",
                "amount": {"currency_code": "EUR", "value": "19.99"},
                "description": "VPS S, 1 month",
            }
        ],
    }


def test_order_request_with_return_urls_sets_the_experience_context() -> None:
    body = paypal.order_request(
        "INV-1", 500, "JPY", return_url="https://shop.test/ok", cancel_url="https://shop.test/no"
    )
    assert body["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": "500"}
    assert body["payment_source"] == {
        "paypal": {
            "experience_context": {
                "return_url": "https://shop.test/ok",
                "cancel_url": "https://shop.test/no",
                "shipping_preference": "NO_SHIPPING",
                "user_action": "PAY_NOW",
            }
        }
    }


@pytest.mark.parametrize(
    ("ref", "minor", "currency"),
    [("", 100, "EUR"), ("x" * 128, 100, "EUR"), ("INV-1", 0, "EUR"), ("INV-1", 150, "HUF")],
)
def test_order_request_refuses_what_paypal_would(ref: str, minor: int, currency: str) -> None:
    with pytest.raises(errors.UserError):
        paypal.order_request(ref, minor, currency)
