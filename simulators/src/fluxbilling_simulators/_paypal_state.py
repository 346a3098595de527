"""The simulated PayPal world: tokens, orders, captures, refunds, events and the signing key.

Plain data plus the rules that change it; the HTTP layer and the notifier are
`simulators.paypal`. Used from one asyncio loop: no method awaits, so each request's
read-modify-write is atomic. Rules raise `PayPalProblem`, which the HTTP layer renders in
PayPal's error shape (``name``, ``message``, ``details[].issue``, ``debug_id``).

Signing is our own code after payments.md §3.2 (deliberately not shared with
`gateways.paypal`, so the two implementations check each other): a 2048-bit RSA key and a
self-signed certificate with CN `SIM_CERT_NAME`, served at
``https://<cert_host>/v1/notifications/certs/CERT-...`` on a test-only host.

Layout: `simulators._paypal_webhooks` holds the key, certificates, signing and the event
outbox (`PayPalWebhooks`), `simulators._paypal_payments` the orders, captures, refunds and
disputes (`PayPalPayments`, a subclass of `PayPalWebhooks`), `simulators._paypal_problems`
the error shape. `PayPalState` subclasses `PayPalPayments`, holds the data as dataclass
fields and adds access tokens, idempotency keys and `dump`; this module re-exports the
names callers import.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators._paypal_payments import PayPalPayments
from fluxbilling_simulators._paypal_problems import PayPalProblem
from fluxbilling_simulators._paypal_webhooks import (
    SIM_CERT_HOST,
    SIM_CERT_NAME,
    Notification,
    Transmission,
    iso_time,
    make_certificate,
    new_key,
)

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

SIM_API_BASE = "https://api-m.sandbox.paypal.test"
# How long PayPal-Request-Id keys are kept (orders v2 and payments v2 OpenAPI specs).
_REPLAY_TTL = {
    "create order": timedelta(hours=6),
    "capture order": timedelta(hours=6),
    "refund capture": timedelta(days=45),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PayPalState(PayPalPayments):
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

    def debug_id(self) -> str:
        """A PayPal-style ``debug_id`` for an error answer."""
        return f"{self.rng.getrandbits(52):013x}"

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
            "nonce": f"{iso_time(now)}{self._id(43)}",
        }

    def token_valid(self, token: str) -> bool:
        """Whether a bearer token was issued and has not expired."""
        expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry

    def revoke_tokens(self) -> None:
        """Forget every token (the next API call with an old one answers 401)."""
        self.tokens.clear()

    # --- idempotency and inspection ------------------------------------------------------

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
