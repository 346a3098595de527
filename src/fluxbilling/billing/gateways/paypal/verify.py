"""PayPal webhook verification: certificate URL, transmission headers, certificate, RSA signature.

Everything here is a pure function over the transmission headers, the raw body bytes, our
configured webhook id, the certificate PEM and an explicit `now` (payments.md §3.2):

1. the five ``PAYPAL-*`` headers must be present; ``PAYPAL-AUTH-ALGO`` must be exactly
   ``SHA256withRSA`` (anything else is refused, so a downgrade is impossible);
2. ``PAYPAL-CERT-URL`` must be ``https`` on one of PayPal's API hosts, default port, no
   userinfo, path ``/v1/notifications/certs/<id>`` (`check_cert_url`) — so neither an SSRF
   target nor an attacker's key can be planted;
3. the certificate (first PEM block; PayPal may append its chain) must be valid at `now`
   and its subject CN must be a PayPal name (the old SDK's rule: ends with
   ``.paypal.com``);
4. ``message = transmission_id|transmission_time|webhook_id|crc32(raw_body)``, header
   strings verbatim, the CRC-32 as an unsigned decimal, UTF-8; `webhook_id` is *ours*, from
   configuration, never from the request;
5. ``base64decode(PAYPAL-TRANSMISSION-SIG)`` must verify over `message` with the
   certificate's RSA key, PKCS#1 v1.5, SHA-256.

Fetching the certificate is not done here: `api.CertCache` fetches it over TLS, only after
`check_cert_url`. §3.2's "chains to a trusted root" is not checked: trust comes
from that TLS-verified fetch from an allow-listed PayPal host (PayPal's real chain was not
available to test a chain check against).

`check_cert_url` is step 2, `read_transmission` step 1 and `verify` steps 3-5. Failures
raise `errors.InvalidWebhook` naming what failed; messages never contain the webhook id,
keys or the body.
"""

from __future__ import annotations

import base64
import binascii
import string
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fluxbilling import errors

__all__ = [
    "AUTH_ALGO",
    "AUTH_ALGO_HEADER",
    "CERT_HOSTS",
    "CERT_NAMES",
    "CERT_PATH_PREFIX",
    "CERT_URL_HEADER",
    "HEADERS",
    "TRANSMISSION_ID_HEADER",
    "TRANSMISSION_SIG_HEADER",
    "TRANSMISSION_TIME_HEADER",
    "Transmission",
    "check_cert_url",
    "read_transmission",
    "verify",
]

TRANSMISSION_ID_HEADER = "PAYPAL-TRANSMISSION-ID"
TRANSMISSION_TIME_HEADER = "PAYPAL-TRANSMISSION-TIME"
TRANSMISSION_SIG_HEADER = "PAYPAL-TRANSMISSION-SIG"
CERT_URL_HEADER = "PAYPAL-CERT-URL"
AUTH_ALGO_HEADER = "PAYPAL-AUTH-ALGO"
HEADERS = (
    TRANSMISSION_ID_HEADER,
    TRANSMISSION_TIME_HEADER,
    TRANSMISSION_SIG_HEADER,
    CERT_URL_HEADER,
    AUTH_ALGO_HEADER,
)
AUTH_ALGO = "SHA256withRSA"
CERT_PATH_PREFIX = "/v1/notifications/certs/"
#: Hosts a certificate may be fetched from (§3.2). Entries are exact host names; an entry
#: starting with ``.`` matches any longer name ending with it.
CERT_HOSTS: frozenset[str] = frozenset(
    {"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}
)
#: Accepted certificate subject CNs, same matching as `CERT_HOSTS`. Observed names are
#: ``messageverificationcerts.paypal.com`` and its ``.sandbox.`` variant; §3.2 (PayPal's
#: former SDK) accepts any name ending with ``.paypal.com``.
CERT_NAMES: frozenset[str] = frozenset({".paypal.com"})
_MIN_RSA_BITS = 2048
_CERT_ID = frozenset(string.ascii_letters + string.digits + "-_.")
_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-.")


def _name_allowed(name: str, allowed: Collection[str]) -> bool:
    name = name.lower()
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("."):
            if name.endswith(entry) and len(name) > len(entry):
                return True
        elif name == entry:
            return True
    return False


# ---------------------------------------------------------------------------------------
# Certificate URL


def check_cert_url(url: str, allowed_hosts: Collection[str] = CERT_HOSTS) -> str:
    """Refuse a ``PAYPAL-CERT-URL`` that is not a PayPal certificate URL.

    Accepted: ``https://<host>[:443]/v1/notifications/certs/<id>`` where ``<host>`` is in
    `allowed_hosts` and ``<id>`` is letters, digits, ``-``, ``_`` and ``.`` (not ``.``/``..``).
    Refused: other schemes, userinfo (``user@host``), other ports, look-alike hosts
    (``api.paypal.com.evil.test``, a trailing dot), paths elsewhere, query strings,
    fragments, percent-encoding, backslashes, whitespace and non-ASCII.

    Args:
        url: The header value.
        allowed_hosts: Exact host names, or ``.suffix`` entries (tests add the simulator's
            test-only host).

    Returns:
        `url`, unchanged, for the caller to fetch.

    Raises:
        errors.InvalidWebhook: The URL is refused (the message says why).

    Example:
        >>> check_cert_url("https://api.paypal.com/v1/notifications/certs/CERT-1")
        'https://api.paypal.com/v1/notifications/certs/CERT-1'
    """

    def refuse(why: str) -> errors.InvalidWebhook:
        return errors.InvalidWebhook(f"certificate URL refused: {why}", cert_url=url[:300])

    if (
        not url
        or not url.isascii()
        or any(c in url for c in "\\?#%@ \t\r\n")
        or not url.isprintable()
    ):
        raise refuse("it contains characters a PayPal certificate URL never has")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unbalanced IPv6 bracket: `https://[api.paypal.com/...`
        raise refuse("malformed host or a port other than 443") from exc
    if parts.scheme != "https":
        raise refuse("not https")
    host = (parts.hostname or "").lower()
    if (
        not host
        or not set(host) <= _HOST_CHARS
        or parts.netloc.lower() not in (host, f"{host}:443")
    ):
        raise refuse("malformed host or a port other than 443")
    if not _name_allowed(host, allowed_hosts):
        raise refuse(f"host {host!r} is not a PayPal host")
    cert_id = parts.path.removeprefix(CERT_PATH_PREFIX)
    if (
        not parts.path.startswith(CERT_PATH_PREFIX)
        or not cert_id
        or not set(cert_id) <= _CERT_ID
        or cert_id in (".", "..")
    ):
        raise refuse(f"path is not under {CERT_PATH_PREFIX}")
    return url


# ---------------------------------------------------------------------------------------
# Signature


@dataclass(frozen=True, slots=True)
class Transmission:
    """The five transmission headers of one delivery attempt, verbatim.

    Attributes:
        id: ``PAYPAL-TRANSMISSION-ID`` (one delivery attempt, not the event id).
        time: ``PAYPAL-TRANSMISSION-TIME``, as sent (signed verbatim).
        sig: ``PAYPAL-TRANSMISSION-SIG``, base64.
        cert_url: ``PAYPAL-CERT-URL``.
        auth_algo: ``PAYPAL-AUTH-ALGO``.
    """

    id: str
    time: str
    sig: str
    cert_url: str
    auth_algo: str

    @property
    def sent_at(self) -> datetime | None:
        """The transmission time as an aware datetime, None when it does not parse.

        PayPal documents no freshness window (§3.5): record it and alert on skew, do not
        reject on it.
        """
        try:
            parsed = datetime.fromisoformat(self.time)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None


def read_transmission(headers: Mapping[str, str]) -> Transmission:
    """The transmission headers of a delivery (header names in any case).

    Args:
        headers: The request headers.

    Returns:
        The five values, verbatim.

    Raises:
        errors.InvalidWebhook: A header is missing or empty, or the algorithm is not
            ``SHA256withRSA``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [name for name in HEADERS if not lowered.get(name.lower())]
    if missing:
        raise errors.InvalidWebhook(f"missing header {', '.join(missing)}", missing=missing)
    found = Transmission(*(lowered[name.lower()] for name in HEADERS))
    if found.auth_algo != AUTH_ALGO:
        raise errors.InvalidWebhook(
            f"unsupported {AUTH_ALGO_HEADER} {found.auth_algo[:40]!r}; only {AUTH_ALGO}",
            auth_algo=found.auth_algo[:40],
        )
    return found


def _certificate(cert_pem: bytes) -> x509.Certificate:
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise errors.InvalidWebhook("certificate is not a PEM X.509 certificate") from exc
    return chain[0]


def _check_certificate(cert: x509.Certificate, now: datetime, cert_names: Collection[str]) -> None:
    if now.tzinfo is None:
        raise errors.InvariantViolation("now must be timezone-aware")
    if now < cert.not_valid_before_utc:
        raise errors.InvalidWebhook(
            "certificate is not yet valid",
            not_before=cert.not_valid_before_utc.isoformat(),
        )
    if now > cert.not_valid_after_utc:
        raise errors.InvalidWebhook(
            "certificate has expired", not_after=cert.not_valid_after_utc.isoformat()
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if len(names) == 1 else ""
    if not _name_allowed(common_name, cert_names):
        raise errors.InvalidWebhook(
            "certificate subject is not a PayPal name", common_name=common_name[:100]
        )


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    webhook_id: str,
    cert_pem: bytes,
    now: datetime,
    *,
    cert_hosts: Collection[str] = CERT_HOSTS,
    cert_names: Collection[str] = CERT_NAMES,
) -> Transmission:
    """Check that a delivery is authentic and meant for our webhook; return its headers.

    Args:
        headers: The request headers (any case).
        raw_body: The raw request body, exactly as received.
        webhook_id: Our webhook subscription id for this environment (configuration).
        cert_pem: The certificate served at the delivery's ``PAYPAL-CERT-URL`` (PEM; extra
            chain certificates after the first are ignored).
        now: The current time (timezone-aware) for the certificate's validity.
        cert_hosts: Hosts the certificate URL may name (`CERT_HOSTS`).
        cert_names: Accepted subject CNs (`CERT_NAMES`).

    Returns:
        The verified transmission headers.

    Raises:
        errors.InvalidSettings: No webhook id is configured.
        errors.InvalidWebhook: A header is missing, the algorithm is not
            ``SHA256withRSA``, the certificate URL is refused, the certificate does not
            parse, is expired or not yet valid, has a non-PayPal CN or a non-RSA key, the
            signature is not base64, or it does not verify.
    """
    if not webhook_id:
        raise errors.InvalidSettings("no PayPal webhook id is configured")
    transmission = read_transmission(headers)
    check_cert_url(transmission.cert_url, cert_hosts)
    cert = _certificate(cert_pem)
    _check_certificate(cert, now, cert_names)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        raise errors.InvalidWebhook(f"certificate key is not RSA of at least {_MIN_RSA_BITS} bits")
    try:
        signature = base64.b64decode(transmission.sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidWebhook(f"{TRANSMISSION_SIG_HEADER} is not base64") from exc
    crc = zlib.crc32(raw_body) & 0xFFFFFFFF
    message = f"{transmission.id}|{transmission.time}|{webhook_id}|{crc}".encode()
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise errors.InvalidWebhook(
            "signature does not match", transmission_id=transmission.id[:100]
        ) from exc
    return transmission
