"""The simulated PayPal's webhooks: signing key and certificates, signing, the event outbox.

Signing is our own code after payments.md §3.2 (deliberately not shared with
`gateways.paypal`, so the two implementations check each other): a 2048-bit RSA key and a
self-signed certificate with CN `SIM_CERT_NAME`, served at
``https://<cert_host>/v1/notifications/certs/CERT-...`` on a test-only host.

`PayPalWebhooks`, the innermost base of `simulators._paypal_state.PayPalState` (through
`PayPalPayments`), holds ids, key and certificate rotation, signing transmissions, booking
their answers, the postback verification endpoint's rule, and queueing events
(`Notification`) for the notifier in `simulators.paypal`. `simulators._paypal_state`
re-exports the names callers import from here.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import random
import string
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fluxbilling_simulators._paypal_problems import PayPalProblem, invalid, not_found

__all__ = [
    "SIM_CERT_HOST",
    "SIM_CERT_NAME",
    "Notification",
    "PayPalWebhooks",
    "Transmission",
    "iso_time",
    "make_certificate",
    "new_key",
]

_PAGE_SIZE = (10, 300)  # default and largest page_size (the largest is our choice)
SIM_CERT_HOST = "api.sandbox.paypal.test"
SIM_CERT_NAME = "messageverificationcerts.sandbox.paypal.com"
_UPPER = string.ascii_uppercase + string.digits


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(
    key: rsa.RSAPrivateKey,
    *,
    common_name: str = SIM_CERT_NAME,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A self-signed certificate for `key`, shaped like PayPal's message-verification one.

    The subject (CN, ``O=PayPal, Inc.``) mirrors what PayPal's certificate is reported to
    carry; PayPal's is issued by a public CA, this one signs itself.
    """
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PayPal, Inc."),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )


def iso_time(moment: datetime) -> str:
    """`moment` as PayPal writes times: UTC, whole seconds (``2024-05-01T12:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Notification:
    """One event in the webhook outbox.

    Attributes:
        event_id: ``WH-...``.
        event_type: E.g. ``PAYMENT.CAPTURE.COMPLETED``.
        body: The exact bytes every transmission sends.
        state: ``pending``, ``delivered``, ``failed`` (gave up after `max_attempts`) or
            ``dropped`` (lost on purpose).
        attempts: Transmissions so far.
    """

    event_id: str
    event_type: str
    body: bytes
    state: str = "pending"
    attempts: int = 0


@dataclass
class Transmission:
    """One delivery attempt: the signed headers and what the receiver answered."""

    transmission_id: str
    event_id: str
    headers: dict[str, str]
    status: int | None = None
    error: str | None = None


class PayPalWebhooks:
    """Ids, signing certificates, transmissions and the event outbox of `PayPalState`.

    The attributes below are `PayPalState`'s dataclass fields (documented there), declared
    here only so the type checker knows what these methods read and write.
    """

    webhook_id: str
    cert_host: str
    api_base: str
    max_attempts: int
    clock: Callable[[], datetime]
    key: rsa.RSAPrivateKey | None
    notifications: dict[str, Notification]
    outbox: list[str]
    transmissions: list[Transmission]
    certs: dict[str, x509.Certificate]
    rng: random.Random
    cert_id: str

    # --- ids, certificate, signing -------------------------------------------------------

    def _id(self, length: int = 17) -> str:
        return "".join(self.rng.choice(_UPPER) for _ in range(length))

    def rotate_cert(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        common_name: str = SIM_CERT_NAME,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> str:
        """Start signing with a new key and certificate (old ones stay served).

        Args:
            key: The new key; generated when None.
            common_name: The subject CN (tests use a foreign one to be refused).
            not_before: Validity start; an hour before `clock()` when None.
            not_after: Validity end; a year after `clock()` when None.

        Returns:
            The new certificate's URL.
        """
        now = self.clock()
        self.key = key or new_key()
        self.cert_id = "CERT-360caa42-" + "-".join(
            f"{self.rng.getrandbits(32):08x}" for _ in range(2)
        )
        self.certs[self.cert_id] = make_certificate(
            self.key,
            common_name=common_name,
            not_before=not_before or now - timedelta(hours=1),
            not_after=not_after or now + timedelta(days=365),
        )
        return self.cert_url

    @property
    def cert_url(self) -> str:
        """Where the current certificate is served."""
        return f"https://{self.cert_host}/v1/notifications/certs/{self.cert_id}"

    def cert_pem(self, cert_id: str | None = None) -> bytes | None:
        """The PEM of a certificate (the current one by default), None if unknown."""
        cert = self.certs.get(cert_id or self.cert_id)
        return None if cert is None else cert.public_bytes(serialization.Encoding.PEM)

    def sign(
        self,
        body: bytes,
        transmission_id: str,
        transmission_time: str,
        *,
        webhook_id: str | None = None,
    ) -> dict[str, str]:
        """The headers PayPal sends with `body`: §3.2 message, SHA256withRSA, base64.

        Args:
            body: The exact body bytes.
            transmission_id: ``PAYPAL-TRANSMISSION-ID``.
            transmission_time: ``PAYPAL-TRANSMISSION-TIME``, signed verbatim.
            webhook_id: The webhook signed for; ours (`webhook_id`) when None.
        """
        assert self.key is not None  # noqa: S101 - set by __post_init__
        crc = zlib.crc32(body) & 0xFFFFFFFF
        wid = self.webhook_id if webhook_id is None else webhook_id
        message = f"{transmission_id}|{transmission_time}|{wid}|{crc}".encode()
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "Content-Type": "application/json",
            "User-Agent": "PayPal/AUHD-214.0-58843993",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode("ascii"),
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }

    def new_transmission(self, notification: Notification) -> Transmission:
        """Sign and log one new transmission of `notification` (new id and time per attempt)."""
        tid = str(uuid.UUID(int=self.rng.getrandbits(128), version=1))
        headers = self.sign(notification.body, tid, iso_time(self.clock()))
        sent = Transmission(transmission_id=tid, event_id=notification.event_id, headers=headers)
        self.transmissions.append(sent)  # before sending: the receiver may post it back
        return sent

    def record(self, notification: Notification, sent: Transmission) -> None:
        """Book the answer to one transmission: 2xx delivers, else retry until the limit."""
        notification.attempts += 1
        if sent.status is not None and 200 <= sent.status < 300:
            notification.state = "delivered"
        elif notification.state == "pending" and notification.attempts >= self.max_attempts:
            notification.state = "failed"
        if notification.state != "pending" and notification.event_id in self.outbox:
            self.outbox.remove(notification.event_id)

    # --- postback verification -----------------------------------------------------------

    def verify_postback(self, body: Any) -> str:
        """``POST /v1/notifications/verify-webhook-signature``: ``SUCCESS`` or ``FAILURE``.

        Modelled: the transmission must be one we sent (so its exact signed body is known),
        ``webhook_event`` must equal that event *as JSON data* (PayPal is reported to be
        stricter about re-serialisation; unverified), ``auth_algo`` must be
        ``SHA256withRSA``, ``cert_url`` must name one of our certificates, and the signature
        must verify over ``transmission_id|transmission_time|webhook_id|crc32(body)`` built
        from the request's fields — so a wrong webhook id or time fails cryptographically.
        """
        fields = (
            "auth_algo",
            "cert_url",
            "transmission_id",
            "transmission_sig",
            "transmission_time",
            "webhook_id",
            "webhook_event",
        )
        missing = [f for f in fields if not isinstance(body, dict) or not body.get(f)]
        if missing:
            raise PayPalProblem(
                400,
                "VALIDATION_ERROR",
                "Invalid request - see details",
                "MISSING_REQUIRED_PARAMETER",
                f"{missing[0]} is required",
            )
        tid = body["transmission_id"]
        sent = next((t for t in self.transmissions if t.transmission_id == tid), None)
        if sent is None or body["auth_algo"] != "SHA256withRSA":
            return "FAILURE"
        raw = self.notifications[sent.event_id].body
        prefix = f"https://{self.cert_host}/v1/notifications/certs/"
        cert_url = str(body["cert_url"])
        cert = (
            self.certs.get(cert_url.removeprefix(prefix)) if cert_url.startswith(prefix) else None
        )
        key = cert.public_key() if cert is not None else None
        if body["webhook_event"] != json.loads(raw) or not isinstance(key, rsa.RSAPublicKey):
            return "FAILURE"
        crc = zlib.crc32(raw) & 0xFFFFFFFF
        message = f"{tid}|{body['transmission_time']}|{body['webhook_id']}|{crc}"
        try:
            signature = base64.b64decode(str(body["transmission_sig"]), validate=True)
            key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (binascii.Error, ValueError, InvalidSignature):
            return "FAILURE"
        return "SUCCESS"

    # --- events --------------------------------------------------------------------------

    def emit(
        self, event_type: str, resource_type: str, resource: dict[str, Any], summary: str
    ) -> str:
        """Queue a webhook event for the notifier; return its id."""
        event_id = f"WH-{self._id()}-{self._id()}"
        now = self.clock()
        event = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{now.microsecond // 1000:03d}Z",
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": summary,
            "resource": copy.deepcopy(resource),
            "links": [
                {
                    "href": f"{self.api_base}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{self.api_base}/v1/notifications/webhooks-events/{event_id}/resend",
                    "rel": "resend",
                    "method": "POST",
                },
            ],
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        self.notifications[event_id] = Notification(event_id, event_type, body)
        self.outbox.append(event_id)
        return event_id

    # --- the Events API ------------------------------------------------------------------

    def event(self, event_id: str) -> dict[str, Any]:
        """``GET /v1/notifications/webhooks-events/{id}``: the event as delivered (404 if unknown)."""
        found = self.notifications.get(event_id)
        if found is None:
            raise not_found()
        event: dict[str, Any] = json.loads(found.body)
        return event

    def events(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /v1/notifications/webhooks-events``: the newest events first, filtered.

        Modelled, after the Webhooks v1 OpenAPI: ``page_size`` (default 10), ``event_type``,
        ``transaction_id`` (the resource's id: capture, refund, order or dispute) and the
        ``start_time``/``end_time`` window (inclusive). The spec defines no page cursor: an
        operator pages by moving ``end_time``, so the answer has only a ``self`` link.
        """
        size = query.get("page_size", str(_PAGE_SIZE[0]))
        if not size.isdigit() or not 1 <= int(size) <= _PAGE_SIZE[1]:
            raise invalid("INVALID_PARAMETER_VALUE", f"page_size must be 1-{_PAGE_SIZE[1]}.")
        window = [_moment(query, name) for name in ("start_time", "end_time")]
        wanted = [
            event
            for event in (self.event(i) for i in reversed(list(self.notifications)))
            if query.get("event_type", event["event_type"]) == event["event_type"]
            and _resource_id(event) == query.get("transaction_id", _resource_id(event))
            and _within(event["create_time"], window[0], window[1])
        ][: int(size)]
        base = f"{self.api_base}/v1/notifications/webhooks-events"
        here = "&".join(f"{k}={v}" for k, v in query.items())
        return {
            "events": wanted,
            "count": len(wanted),
            "links": [{"href": f"{base}?{here}" if here else base, "rel": "self", "method": "GET"}],
        }

    def resend(self, event_id: str) -> dict[str, Any]:
        """``POST /v1/notifications/webhooks-events/{id}/resend``: queue it again (202).

        The event goes back to the outbox as ``pending``, whatever became of it; the next
        delivery is a new transmission of the same body.
        """
        event = self.event(event_id)
        self.notifications[event_id].state = "pending"
        if event_id not in self.outbox:
            self.outbox.append(event_id)
        return event


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid("INVALID_PARAMETER_SYNTAX", f"{name} must be an Internet date and time.")
    return moment


def _within(created: str, start: datetime | None, end: datetime | None) -> bool:
    moment = datetime.fromisoformat(created)
    return (start is None or start <= moment) and (end is None or moment <= end)


def _resource_id(event: Mapping[str, Any]) -> str:
    resource = event["resource"]
    found = resource.get("id") or resource.get("dispute_id") or resource.get("order_id") or ""
    return str(found)
