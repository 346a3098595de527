"""The simulated PayPal world: tokens, orders, captures, refunds, events and the signing key.

Plain data plus the rules that change it; the HTTP layer and the notifier are
`simulators.paypal`. Used from one asyncio loop: no method awaits, so each request's
read-modify-write is atomic. Rules raise `PayPalProblem`, which the HTTP layer renders in
PayPal's error shape (``name``, ``message``, ``details[].issue``, ``debug_id``).

Signing is our own code after payments.md §3.2 (deliberately not shared with
`billing.paypal`, so the two implementations check each other): a 2048-bit RSA key and a
self-signed certificate with CN `SIM_CERT_NAME`, served at
``https://<cert_host>/v1/notifications/certs/CERT-...`` on a test-only host.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fluxbilling.simulators._faults import Faults

__all__ = [
    "SIM_API_BASE",
    "SIM_CERT_HOST",
    "SIM_CERT_NAME",
    "Notification",
    "PayPalProblem",
    "PayPalState",
    "Transmission",
    "make_certificate",
    "new_key",
]

SIM_CERT_HOST = "api.sandbox.paypal.test"
SIM_CERT_NAME = "messageverificationcerts.sandbox.paypal.com"
SIM_API_BASE = "https://api-m.sandbox.paypal.test"
_UPPER = string.ascii_uppercase + string.digits
# PayPal's currency list; HUF, JPY and TWD take no decimals (PayPal currency-codes page).
_CURRENCY_LIST = "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF THB USD"
_CURRENCIES = frozenset(_CURRENCY_LIST.split())
_WHOLE = frozenset({"HUF", "JPY", "TWD"})
# How long PayPal-Request-Id keys are kept (orders v2 and payments v2 OpenAPI specs).
_REPLAY_TTL = {
    "create order": timedelta(hours=6),
    "capture order": timedelta(hours=6),
    "refund capture": timedelta(days=45),
}
_UNPROCESSABLE = (
    "The requested action could not be performed, semantically incorrect, or failed business "
    "validation."
)


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


class PayPalProblem(Exception):
    """A request PayPal refuses: rendered as ``{"name", "message", "details", "debug_id"}``."""

    def __init__(self, status: int, name: str, message: str, issue: str, description: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.details = [{"issue": issue, "description": description}]


def _unprocessable(issue: str, description: str) -> PayPalProblem:
    return PayPalProblem(422, "UNPROCESSABLE_ENTITY", _UNPROCESSABLE, issue, description)


def _invalid(issue: str, description: str) -> PayPalProblem:
    message = "Request is not well-formed, syntactically incorrect, or violates schema."
    return PayPalProblem(400, "INVALID_REQUEST", message, issue, description)


def _not_found() -> PayPalProblem:
    return PayPalProblem(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist. Please check the resource ID and try again.",
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_now() -> datetime:
    return datetime.now(UTC)


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


@dataclass
class PayPalState:
    """Everything the simulator knows; tests read and steer it.

    Attributes:
        client_id: The REST app's client id (HTTP Basic user of the token endpoint).
        secret: Its secret.
        webhook_id: Our webhook subscription's id (signed into every transmission).
        webhook_url: Where the notifier delivers by default.
        cert_host: The test-only host of the certificate URL.
        api_base: The origin written into HATEOAS links.
        token_ttl: ``expires_in`` of access tokens (PayPal: 32400 s).
        max_attempts: Transmissions per event before the notifier gives up (PayPal: 25).
        faults: Latency, forced/random errors, "already captured", crash after create.
        seed: Seeds `rng` (ids; the key is random).
        clock: The simulator's time (tests pass a fixed one).
        key: The signing key; a new one when None (tests share one to save time).
        capture_outcomes: Outcomes of the next captures, consumed in order:
            ``COMPLETED`` (default), ``PENDING`` or ``INSTRUMENT_DECLINED`` (a 422).
    """

    client_id: str = "sim-client-id"
    secret: str = "sim-secret"  # noqa: S105 - the simulator's well-known test secret
    webhook_id: str = "1JE4291016473214C"
    webhook_url: str = "http://receiver.test/webhooks/paypal"
    cert_host: str = SIM_CERT_HOST
    api_base: str = SIM_API_BASE
    token_ttl: int = 32400
    max_attempts: int = 25
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    clock: Callable[[], datetime] = _utc_now
    key: rsa.RSAPrivateKey | None = None
    capture_outcomes: list[str] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    outbox: list[str] = field(default_factory=list)
    transmissions: list[Transmission] = field(default_factory=list)
    tokens: dict[str, datetime] = field(default_factory=dict)
    certs: dict[str, x509.Certificate] = field(default_factory=dict)
    requests: int = 0
    rng: random.Random = field(init=False)
    cert_id: str = field(init=False)
    _replays: dict[tuple[str, str], tuple[str, datetime]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography
        self.rotate_cert(key=self.key)

    # --- ids, certificate, signing -------------------------------------------------------

    def _id(self, length: int = 17) -> str:
        return "".join(self.rng.choice(_UPPER) for _ in range(length))

    def debug_id(self) -> str:
        """A PayPal-style ``debug_id`` for an error answer."""
        return f"{self.rng.getrandbits(52):013x}"

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
        headers = self.sign(notification.body, tid, _iso(self.clock()))
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

    # --- OAuth ---------------------------------------------------------------------------

    def issue_token(self) -> dict[str, Any]:
        """A client-credentials token answer."""
        token = "A21AA" + "".join(
            self.rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(92)
        )
        now = self.clock()
        self.tokens[token] = now + timedelta(seconds=self.token_ttl)
        return {
            "scope": "https://uri.paypal.com/services/payments/payment/authcapture openid",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": self.token_ttl,
            "nonce": f"{_iso(now)}{self._id(43)}",
        }

    def token_valid(self, token: str) -> bool:
        """Whether a bearer token was issued and has not expired."""
        expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry

    def revoke_tokens(self) -> None:
        """Forget every token (the next API call with an old one answers 401)."""
        self.tokens.clear()

    # --- money and idempotency -----------------------------------------------------------

    @staticmethod
    def money(amount: Any, where: str) -> Decimal:
        """Validate a money object like PayPal does; return its value."""
        if not isinstance(amount, dict) or not amount.get("currency_code") or "value" not in amount:
            raise _invalid("MISSING_REQUIRED_PARAMETER", f"{where} needs currency_code and value.")
        currency, value = amount["currency_code"], amount["value"]
        if currency not in _CURRENCIES:
            raise _unprocessable(
                "INVALID_CURRENCY_CODE", "Currency code is invalid or is not currently supported."
            )
        try:
            parsed = Decimal(str(value)) if isinstance(value, str) else None
        except ArithmeticError:
            parsed = None
        if parsed is None or not parsed.is_finite():
            raise _invalid(
                "INVALID_PARAMETER_SYNTAX",
                f"{where}.value does not conform to the expected format.",
            )
        exponent = parsed.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if currency in _WHOLE and decimals:
            raise _unprocessable("DECIMALS_NOT_SUPPORTED", "Currency does not support decimals.")
        if decimals > 2:
            raise _unprocessable(
                "DECIMAL_PRECISION", "Only two decimal place precision is supported."
            )
        if parsed <= 0:
            raise _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        return parsed

    @staticmethod
    def _amount(value: Decimal, currency: str) -> dict[str, str]:
        text = f"{value:.0f}" if currency in _WHOLE else f"{value:.2f}"
        return {"currency_code": currency, "value": text}

    def replayed(self, operation: str, request_id: str | None) -> str | None:
        """The object an earlier request with this ``PayPal-Request-Id`` made, while kept."""
        found = self._replays.get((operation, request_id)) if request_id else None
        if found is None or self.clock() >= found[1]:
            return None
        return found[0]

    def remember(self, operation: str, request_id: str | None, object_id: str) -> None:
        """Remember which object a ``PayPal-Request-Id`` made (replays answer it again).

        Kept as long as PayPal's specs say: 6 hours for orders, 45 days for payments.
        """
        if request_id:
            expires = self.clock() + _REPLAY_TTL[operation]
            self._replays[(operation, request_id)] = (object_id, expires)

    # --- orders --------------------------------------------------------------------------

    def _link(self, path: str, rel: str, method: str = "GET") -> dict[str, str]:
        return {"href": f"{self.api_base}{path}", "rel": rel, "method": method}

    def _order_links(self, order: dict[str, Any]) -> list[dict[str, str]]:
        path = f"/v2/checkout/orders/{order['id']}"
        links = [self._link(path, "self")]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            rel = "approve" if order["status"] == "CREATED" else "payer-action"
            href = f"https://www.sandbox.paypal.test/checkoutnow?token={order['id']}"
            links.append({"href": href, "rel": rel, "method": "GET"})
        if order["status"] != "COMPLETED":
            links.append(self._link(path, "update", "PATCH"))
            links.append(self._link(f"{path}/capture", "capture", "POST"))
        return links

    def order(self, order_id: str) -> dict[str, Any]:
        """A copy of an order (404 problem when unknown)."""
        return copy.deepcopy(self._order(order_id))

    def _order(self, order_id: str) -> dict[str, Any]:
        found = self.orders.get(order_id)
        if found is None:
            raise _not_found()
        return found

    def create_order(self, body: Any) -> dict[str, Any]:
        """``POST /v2/checkout/orders``: validate like PayPal, store, return the order.

        Modelled: ``intent: CAPTURE`` with one purchase unit (other shapes answer 400 and
        say they are not modelled); money rules; ``payment_source.paypal`` makes the order
        ``PAYER_ACTION_REQUIRED`` with a ``payer-action`` link, else ``CREATED`` with an
        ``approve`` link.
        """
        if not isinstance(body, dict):
            raise _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
        if "intent" not in body:
            raise _invalid("MISSING_REQUIRED_PARAMETER", "intent is required.")
        if body["intent"] != "CAPTURE":
            raise _invalid(
                "INVALID_PARAMETER_VALUE", "intent: only CAPTURE is modelled by the simulator."
            )
        units = body.get("purchase_units")
        if not isinstance(units, list) or not units or not isinstance(units[0], dict):
            raise _invalid("MISSING_REQUIRED_PARAMETER", "purchase_units is required.")
        if len(units) > 1:
            raise _invalid("INVALID_ARRAY_MAX_ITEMS", "The simulator models one purchase unit.")
        unit = units[0]
        self.money(unit.get("amount"), "purchase_units[0].amount")
        stored: dict[str, Any] = {
            "reference_id": unit.get("reference_id") or "default",
            "amount": {k: unit["amount"][k] for k in ("currency_code", "value")},
            "payee": {
                "email_address": "merchant@sandbox.paypal.test",
                "merchant_id": "SIMMERCHANT01",
            },
        }
        for name in ("description", "custom_id", "invoice_id"):
            value = unit.get(name)
            if value is None:
                continue
            if not isinstance(value, str) or not 1 <= len(value) <= 127:
                raise _invalid(
                    "INVALID_STRING_LENGTH", f"purchase_units[0].{name} must be 1-127 characters."
                )
            stored[name] = value
        source = body.get("payment_source")
        wallet = isinstance(source, dict) and "paypal" in source
        order: dict[str, Any] = {
            "id": self._id(),
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED" if wallet else "CREATED",
            "purchase_units": [stored],
            "create_time": _iso(self.clock()),
        }
        if wallet:
            order["payment_source"] = {"paypal": {}}
        order["links"] = self._order_links(order)
        self.orders[order["id"]] = order
        return copy.deepcopy(order)

    def approve(self, order_id: str) -> str:
        """The payer approves on PayPal's pages (no API for that): ``APPROVED`` + event.

        Returns:
            The ``CHECKOUT.ORDER.APPROVED`` event id.
        """
        order = self._order(order_id)
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            raise _unprocessable(
                "ORDER_CANNOT_BE_APPROVED", "Simulator: order is not awaiting approval."
            )
        payer_id = self._id(13)
        name = {"given_name": "Sim", "surname": "Buyer"}
        order["payer"] = {
            "name": name,
            "email_address": "buyer@sandbox.paypal.test",
            "payer_id": payer_id,
        }
        order["payment_source"] = {
            "paypal": {
                "email_address": "buyer@sandbox.paypal.test",
                "account_id": payer_id,
                "account_status": "VERIFIED",
                "name": name,
            }
        }
        order["status"] = "APPROVED"
        order["update_time"] = _iso(self.clock())
        order["links"] = self._order_links(order)
        return self.emit(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            order,
            "An order has been approved by buyer",
        )

    def reverse_approval(self, order_id: str) -> str:
        """PayPal could not complete an approved order: ``VOIDED`` + event (shape unverified)."""
        order = self._order(order_id)
        order["status"] = "VOIDED"
        order["links"] = self._order_links(order)
        resource = {"order_id": order_id, "purchase_units": copy.deepcopy(order["purchase_units"])}
        return self.emit(
            "CHECKOUT.PAYMENT-APPROVAL.REVERSED",
            "checkout-order",
            resource,
            "A payment has been reversed after approval.",
        )

    def capture_order(self, order_id: str) -> dict[str, Any]:
        """``POST /v2/checkout/orders/{id}/capture``: capture, complete the order, emit.

        Refusals (422): ``ORDER_ALREADY_CAPTURED``, ``ORDER_NOT_APPROVED``,
        ``DUPLICATE_INVOICE_ID`` (another live capture has the invoice id),
        ``INSTRUMENT_DECLINED`` (a queued outcome; the order stays approved).
        """
        order = self._order(order_id)
        if order["status"] == "COMPLETED":
            raise _unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            )
        if order["status"] != "APPROVED":
            raise _unprocessable(
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment. Please redirect the payer to "
                "the 'rel':'approve' url returned as part of the HATEOAS links within the Create "
                "Order call or provide a valid `payment_source` in the request.",
            )
        unit = order["purchase_units"][0]
        invoice_id = unit.get("invoice_id")
        if invoice_id and any(
            c.get("invoice_id") == invoice_id and c["status"] != "DECLINED"
            for c in self.captures.values()
        ):
            raise _unprocessable(
                "DUPLICATE_INVOICE_ID",
                "Duplicate Invoice ID detected. To avoid a potential duplicate transaction your "
                "account setting requires that Invoice Id be unique for each transaction.",
            )
        outcome = self.capture_outcomes.pop(0) if self.capture_outcomes else "COMPLETED"
        if outcome == "INSTRUMENT_DECLINED":
            raise _unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it "
                "can't be used for this payment.",
            )
        capture = self._new_capture(order, outcome)
        order["status"] = "COMPLETED"
        order["update_time"] = capture["update_time"]
        order["links"] = self._order_links(order)
        self._sync(capture)
        amount = capture["amount"]
        summary = f"Payment {outcome.lower()} for {amount['value']} {amount['currency_code']}"
        self.emit(f"PAYMENT.CAPTURE.{outcome}", "capture", capture, summary)
        return copy.deepcopy(order)

    # --- captures and refunds ------------------------------------------------------------

    def _breakdown(self, amount: dict[str, str]) -> dict[str, Any]:
        currency = amount["currency_code"]
        gross = Decimal(amount["value"])
        fee = (gross * Decimal("0.0349")).quantize(
            Decimal(1) if currency in _WHOLE else Decimal("0.01")
        )
        return {
            "gross_amount": self._amount(gross, currency),
            "paypal_fee": self._amount(fee, currency),
            "net_amount": self._amount(gross - fee, currency),
        }

    def _new_capture(self, order: dict[str, Any], outcome: str) -> dict[str, Any]:
        unit = order["purchase_units"][0]
        capture_id = self._id()
        now = _iso(self.clock())
        path = f"/v2/payments/captures/{capture_id}"
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": outcome,
            "amount": dict(unit["amount"]),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "links": [
                self._link(path, "self"),
                self._link(f"{path}/refund", "refund", "POST"),
                self._link(f"/v2/checkout/orders/{order['id']}", "up"),
            ],
            "create_time": now,
            "update_time": now,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            "payee": dict(unit["payee"]),
        }
        for name in ("invoice_id", "custom_id"):
            if name in unit:
                capture[name] = unit[name]
        if outcome == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        else:
            capture["seller_receivable_breakdown"] = self._breakdown(capture["amount"])
        self.captures[capture_id] = capture
        return capture

    def _sync(self, capture: dict[str, Any]) -> None:
        """Mirror a capture into its order's ``purchase_units[0].payments.captures``."""
        order = self.orders[capture["supplementary_data"]["related_ids"]["order_id"]]
        in_order = {
            k: copy.deepcopy(v)
            for k, v in capture.items()
            if k not in ("supplementary_data", "payee")
        }
        order["purchase_units"][0]["payments"] = {"captures": [in_order]}

    def capture(self, capture_id: str) -> dict[str, Any]:
        """A copy of a capture (404 problem when unknown)."""
        return copy.deepcopy(self._capture(capture_id))

    def _capture(self, capture_id: str) -> dict[str, Any]:
        found = self.captures.get(capture_id)
        if found is None:
            raise _not_found()
        return found

    def _settle(self, capture_id: str, status: str, event_type: str) -> str:
        capture = self._capture(capture_id)
        if capture["status"] != "PENDING":
            raise _unprocessable("CAPTURE_NOT_PENDING", "Simulator: the capture is not pending.")
        capture["status"] = status
        capture.pop("status_details", None)
        if status == "COMPLETED":
            capture["seller_receivable_breakdown"] = self._breakdown(capture["amount"])
        capture["update_time"] = _iso(self.clock())
        self._sync(capture)
        return self.emit(event_type, "capture", capture, f"Payment {status.lower()}")

    def complete_capture(self, capture_id: str) -> str:
        """A pending capture clears: ``COMPLETED`` + ``PAYMENT.CAPTURE.COMPLETED``."""
        return self._settle(capture_id, "COMPLETED", "PAYMENT.CAPTURE.COMPLETED")

    def deny_capture(self, capture_id: str) -> str:
        """A pending capture is denied: ``DECLINED`` + ``PAYMENT.CAPTURE.DENIED``."""
        return self._settle(capture_id, "DECLINED", "PAYMENT.CAPTURE.DENIED")

    def _refunded(self, capture_id: str) -> Decimal:
        up = f"{self.api_base}/v2/payments/captures/{capture_id}"
        return sum(
            (
                Decimal(r["amount"]["value"])
                for r in self.refunds.values()
                if r["links"][1]["href"] == up
            ),
            Decimal(0),
        )

    def _money_out(
        self, capture: dict[str, Any], value: Decimal, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a refund-shaped object (refund or reversal) and update the capture."""
        currency = capture["amount"]["currency_code"]
        refund_id = self._id()
        now = _iso(self.clock())
        refunded = self._refunded(capture["id"]) + value
        refund: dict[str, Any] = {
            "id": refund_id,
            "amount": self._amount(value, currency),
            **{k: capture[k] for k in ("invoice_id", "custom_id") if k in capture},
            **extra,
            "seller_payable_breakdown": {
                "gross_amount": self._amount(value, currency),
                "paypal_fee": self._amount(Decimal(0), currency),
                "net_amount": self._amount(value, currency),
                "total_refunded_amount": self._amount(refunded, currency),
            },
            "status": "COMPLETED",
            "create_time": now,
            "update_time": now,
            "links": [
                self._link(f"/v2/payments/refunds/{refund_id}", "self"),
                self._link(f"/v2/payments/captures/{capture['id']}", "up"),
            ],
        }
        self.refunds[refund_id] = refund
        full = refunded >= Decimal(capture["amount"]["value"])
        capture["status"] = "REFUNDED" if full else "PARTIALLY_REFUNDED"
        capture["update_time"] = now
        self._sync(capture)
        return refund

    def refund_capture(self, capture_id: str, body: Any) -> dict[str, Any]:
        """``POST /v2/payments/captures/{id}/refund``: full (no amount) or partial.

        Refusals (422): ``CAPTURE_FULLY_REFUNDED``, ``REFUND_NOT_ALLOWED`` (not completed),
        ``REFUND_CAPTURE_CURRENCY_MISMATCH``, ``REFUND_AMOUNT_EXCEEDED`` and the money rules.
        """
        capture = self._capture(capture_id)
        body = body if isinstance(body, dict) else {}
        if capture["status"] == "REFUNDED":
            raise _unprocessable(
                "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded"
            )
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise _unprocessable("REFUND_NOT_ALLOWED", "Capture cannot be refunded.")
        remaining = Decimal(capture["amount"]["value"]) - self._refunded(capture_id)
        value = remaining
        if body.get("amount") is not None:
            value = self.money(body["amount"], "amount")
            if body["amount"]["currency_code"] != capture["amount"]["currency_code"]:
                raise _unprocessable(
                    "REFUND_CAPTURE_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture",
                )
            if value > remaining:
                raise _unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that has "
                    "not yet been refunded.",
                )
        extra = {
            k: body[k]
            for k in ("invoice_id", "custom_id", "note_to_payer")
            if isinstance(body.get(k), str)
        }
        refund = self._money_out(capture, value, extra)
        amount = refund["amount"]
        summary = f"A {amount['value']} {amount['currency_code']} capture payment was refunded"
        self.emit("PAYMENT.CAPTURE.REFUNDED", "refund", refund, summary)
        return copy.deepcopy(refund)

    def refund(self, refund_id: str) -> dict[str, Any]:
        """A copy of a refund (404 problem when unknown)."""
        found = self.refunds.get(refund_id)
        if found is None:
            raise _not_found()
        return copy.deepcopy(found)

    def reverse_capture(self, capture_id: str) -> str:
        """A chargeback takes the rest of the money back: ``PAYMENT.CAPTURE.REVERSED``.

        The resource is refund-shaped (``resource_type: refund``, ``up`` link to the
        capture), as in PayPal's published sample; the capture's status afterwards is our
        choice (``REFUNDED``), not verified.
        """
        capture = self._capture(capture_id)
        remaining = Decimal(capture["amount"]["value"]) - self._refunded(capture_id)
        reversal = self._money_out(capture, remaining, {"note_to_payer": "Payment reversed"})
        amount = reversal["amount"]
        summary = f"A {amount['value']} {amount['currency_code']} capture payment was reversed"
        return self.emit("PAYMENT.CAPTURE.REVERSED", "refund", reversal, summary)

    def open_dispute(
        self, capture_id: str, reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    ) -> str:
        """The buyer opens a dispute on a capture: ``CUSTOMER.DISPUTE.CREATED``."""
        capture = self._capture(capture_id)
        dispute_id = f"PP-D-{self.rng.randrange(10**5):05d}"
        now = _iso(self.clock())
        transaction = {
            "seller_transaction_id": capture_id,
            "create_time": capture["create_time"],
            "transaction_status": "COMPLETED",
            "gross_amount": dict(capture["amount"]),
            "buyer": {"name": "Sim Buyer"},
            "seller": {"merchant_id": capture["payee"]["merchant_id"]},
        }
        if "invoice_id" in capture:
            transaction["invoice_number"] = capture["invoice_id"]
        if "custom_id" in capture:
            transaction["custom"] = capture["custom_id"]
        dispute = {
            "dispute_id": dispute_id,
            "create_time": now,
            "update_time": now,
            "disputed_transactions": [transaction],
            "reason": reason,
            "status": "OPEN",
            "dispute_amount": dict(capture["amount"]),
            "dispute_life_cycle_stage": "INQUIRY",
            "dispute_channel": "INTERNAL",
            "links": [self._link(f"/v1/customer/disputes/{dispute_id}", "self")],
        }
        self.disputes[dispute_id] = dispute
        return self.emit("CUSTOMER.DISPUTE.CREATED", "dispute", dispute, "A new dispute opened")

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

    def dump(self) -> dict[str, Any]:
        """A JSON-safe snapshot for tests and `GET /_sim/state`."""
        return {
            "webhook": {"id": self.webhook_id, "url": self.webhook_url},
            "cert_url": self.cert_url,
            "orders": copy.deepcopy(self.orders),
            "captures": copy.deepcopy(self.captures),
            "refunds": copy.deepcopy(self.refunds),
            "disputes": copy.deepcopy(self.disputes),
            "notifications": [
                {
                    "event_id": n.event_id,
                    "event_type": n.event_type,
                    "state": n.state,
                    "attempts": n.attempts,
                }
                for n in self.notifications.values()
            ],
            "outbox": list(self.outbox),
            "transmissions": [
                {
                    "transmission_id": t.transmission_id,
                    "event_id": t.event_id,
                    "status": t.status,
                    "error": t.error,
                }
                for t in self.transmissions
            ],
            "requests": self.requests,
        }
