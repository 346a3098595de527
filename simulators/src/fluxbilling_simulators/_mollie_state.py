"""The simulated Mollie account: payments, refunds, chargebacks and their transitions.

Plain data plus the rules that change it; HTTP and notifications live in
`simulators.mollie`. Used from one event loop: no method awaits, so every change is atomic.

Payment status machine, as a table (`_FROM`); the test helpers drive it where Mollie's
checkout would. A paid payment stays ``paid`` through refunds and chargebacks: only its
amounts and sub-resources change.

| to                                          | allowed from                    |
|---------------------------------------------|---------------------------------|
| ``pending``                                 | ``open``                        |
| ``authorized``                              | ``open``, ``pending``           |
| ``paid``, ``failed``, ``canceled``, ``expired`` | ``open``, ``pending``, ``authorized`` |

Refunds are created through the API (``POST /v2/payments/{id}/refunds``, `validate_refund`
then `refund`) or by a test; a ``queued``/``pending`` one can be canceled. Lists
(`listing`) are newest first, like Mollie's cursor pages.

Every change Mollie calls a webhook for (paid, authorized, failed, canceled, expired, a
refund created or changing status, a chargeback received or reversed) is appended to
`changes`, which the notifier drains.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import random
import re
import string
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import amounts as mollie_amounts
from fluxbilling_simulators._faults import Faults

__all__ = ["API_KEY", "Change", "MollieState"]

API_KEY = re.compile(r"(test|live)_\w+")
_ALPHABET = string.ascii_letters + string.digits
_FINAL = frozenset({"paid", "failed", "canceled", "expired"})
_FROM: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"open"}),
    "authorized": frozenset({"open", "pending"}),
    "paid": frozenset({"open", "pending", "authorized"}),
    "failed": frozenset({"open", "pending", "authorized"}),
    "canceled": frozenset({"open", "pending", "authorized"}),
    "expired": frozenset({"open", "pending", "authorized"}),
}
_NOTIFIED = frozenset({"paid", "authorized", "failed", "canceled", "expired"})
_REFUND_STATUSES = frozenset({"queued", "pending", "processing", "refunded", "failed", "canceled"})
_MAX_MAJOR_UNITS = Decimal(1_000_000)
_CANCELABLE_REFUNDS = frozenset({"queued", "pending"})
_EMBEDS = frozenset({"refunds", "chargebacks"})
UNREACHABLE = "The webhook URL is invalid because it is unreachable from Mollie's point of view."


@dataclass(frozen=True, slots=True)
class Change:
    """One change Mollie notifies about.

    Attributes:
        payment_id: The payment (classic webhooks always carry the payment id).
        event: ``payment.<status>`` for status changes, ``refund.<status>`` or
            ``chargeback.received`` / ``chargeback.reversed`` for the sub-resources.
        created_at: When it happened (ISO 8601, UTC).
        snapshot: The payment as the API showed it right after the change (refunds and
            chargebacks embedded): what a next-gen event with the full payload carries.
    """

    payment_id: str
    event: str
    created_at: str = ""
    snapshot: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"value": mollie_amounts.format_amount(minor, currency), "currency": currency}


def _private(host: str) -> bool:
    """Whether Mollie's servers could not reach `host` (loopback, private, link-local)."""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def _amount_problem(amount: object) -> tuple[str, str] | None:
    if not isinstance(amount, Mapping):
        return "amount", "The amount is required."
    currency, value = amount.get("currency"), amount.get("value")
    if not isinstance(currency, str) or currency not in mollie_amounts.CURRENCY_DECIMALS:
        return "amount.currency", "The currency is not supported."
    places = mollie_amounts.CURRENCY_DECIMALS[currency]
    pattern = r"[0-9]{1,15}" + (rf"\.[0-9]{{{places}}}" if places else "")
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        return "amount.value", f"The amount must be a string with {places} decimals."
    major = Decimal(value)
    if major <= 0:
        return "amount", "The amount is lower than the minimum."
    if major > _MAX_MAJOR_UNITS:
        return "amount", "The amount is higher than the maximum"
    return None


def _description_problem(description: object) -> tuple[str, str] | None:
    if not isinstance(description, str) or not description.strip():
        return "description", "The description is required."
    if len(description) > 255:
        return "description", "The description must not be longer than 255 characters."
    return None


def _refund_description_problem(description: object) -> tuple[str, str] | None:
    if description is None:
        return None
    if not isinstance(description, str):
        return "description", "The description must be a string."
    if len(description) > 140:
        return "description", "The description must not be longer than 140 characters."
    return None


def _metadata_problem(metadata: object) -> tuple[str, str] | None:
    if metadata is not None and len(json.dumps(metadata)) > 1024:
        return "metadata", "The metadata is too large (1024 bytes at most)."
    return None


@dataclass
class MollieState:
    """Everything the simulator knows; tests read `payments` and steer with the helpers.

    Attributes:
        api_keys: Accepted API keys; empty accepts any ``test_...`` / ``live_...`` key.
        faults: Latency, random and forced failures, 409 duplicates, crash after create.
        seed: Seeds the id generator.
        reject_private_webhooks: Answer 422 for ``localhost`` / private webhook URLs like
            Mollie does (off by default: a local simulator notifies local receivers).
        clock: The current time (injectable for deterministic timestamps).
        public_url: The API base in the links of change snapshots and of `dump`.
        refund_keys: ``Idempotency-Key`` → refund id, for refund creation (payments use
            `idempotency`).
        created: The creation position of every payment, refund and chargeback id (lists
            are newest first).
    """

    api_keys: frozenset[str] = frozenset()
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    reject_private_webhooks: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    public_url: str = "https://api.mollie.com"
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chargebacks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    refund_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    requests: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation ids, not secrets

    def new_id(self, prefix: str, length: int = 10) -> str:
        """A random id such as ``tr_WDqYK6vllg`` (seeded)."""
        return prefix + "".join(self.rng.choice(_ALPHABET) for _ in range(length))

    # -- authentication and validation --------------------------------------------------

    def mode_of(self, authorization: str | None) -> str | None:
        """The mode (``test``/``live``) of a valid ``Bearer`` API key, None otherwise."""
        scheme, _, key = (authorization or "").partition(" ")
        if scheme != "Bearer" or not API_KEY.fullmatch(key):
            return None
        if self.api_keys and key not in self.api_keys:
            return None
        return key.split("_", 1)[0]

    def validate_create(self, body: Mapping[str, Any]) -> tuple[str, str] | None:
        """The first problem of a create body as ``(field, detail)``, or None."""
        return (
            _amount_problem(body.get("amount"))
            or _description_problem(body.get("description"))
            or self._url_problem("redirectUrl", body.get("redirectUrl"), required=True)
            or self._url_problem("webhookUrl", body.get("webhookUrl"), required=False)
            or _metadata_problem(body.get("metadata"))
        )

    def _url_problem(self, name: str, url: object, *, required: bool) -> tuple[str, str] | None:
        if url is None and not required:
            return None
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            return name, f"The {name} is invalid."
        if name == "webhookUrl" and self.reject_private_webhooks and _private(parts.hostname):
            return name, UNREACHABLE
        return None

    def _changed(self, payment_id: str, event: str) -> None:
        snapshot = self.render(self.payments[payment_id], self.public_url, _EMBEDS)
        moment = _iso(self.clock())
        self.changes.append(Change(payment_id, event, moment, copy.deepcopy(snapshot)))

    # -- payments -----------------------------------------------------------------------

    def create_payment(self, body: Mapping[str, Any], mode: str) -> dict[str, Any]:
        """Create an ``open`` payment from a validated body."""
        now = self.clock()
        payment: dict[str, Any] = {
            "resource": "payment",
            "id": self.new_id("tr_"),
            "mode": mode,
            "createdAt": _iso(now),
            "amount": {"value": body["amount"]["value"], "currency": body["amount"]["currency"]},
            "description": body["description"],
            "method": body.get("method"),
            "metadata": body.get("metadata"),
            "status": "open",
            "isCancelable": False,
            "expiresAt": _iso(now + timedelta(minutes=15)),
            "details": None,
            "profileId": "pfl_sim" + self.new_id("", 7),
            "sequenceType": "oneoff",
            "redirectUrl": body["redirectUrl"],
        }
        if body.get("webhookUrl") is not None:
            payment["webhookUrl"] = body["webhookUrl"]
        self.payments[payment["id"]] = payment
        self.created[payment["id"]] = len(self.created)
        return payment

    def payment(self, payment_id: str, mode: str | None = None) -> dict[str, Any] | None:
        """The payment with this id (in this mode, when given), or None."""
        found = self.payments.get(payment_id)
        if found is None or (mode is not None and found["mode"] != mode):
            return None
        return found

    def _get(self, payment_id: str) -> dict[str, Any]:
        found = self.payments.get(payment_id)
        if found is None:
            raise errors.NotFound(f"no payment {payment_id}", payment_id=payment_id)
        return found

    def _minor(self, payment: Mapping[str, Any], name: str = "amount") -> int:
        money = payment[name]
        return mollie_amounts.to_minor(money["value"], money["currency"])

    def _status(self, payment_id: str, status: str, method: str | None = None) -> dict[str, Any]:
        payment = self._get(payment_id)
        if payment["status"] not in _FROM[status]:
            raise errors.Conflict(
                f"a {payment['status']} payment cannot become {status}", payment_id=payment_id
            )
        payment["status"] = status
        payment["isCancelable"] = status == "authorized"
        if status in _FINAL or status == "authorized":
            payment.pop("expiresAt", None)
            payment[f"{status}At"] = _iso(self.clock())
        if status in ("paid", "authorized"):
            payment["method"] = method or payment.get("method") or "creditcard"
        if status == "paid":
            currency = payment["amount"]["currency"]
            payment["amountRefunded"] = _money(0, currency)
            payment["amountRemaining"] = dict(payment["amount"])
        if status in _NOTIFIED:
            self._changed(payment_id, f"payment.{status}")
        return payment

    def pay(self, payment_id: str, method: str | None = None) -> dict[str, Any]:
        """The customer paid (from open, pending or authorized)."""
        return self._status(payment_id, "paid", method)

    def mark_pending(self, payment_id: str) -> dict[str, Any]:
        """The payment started and waits for the method's result (no webhook call)."""
        return self._status(payment_id, "pending")

    def authorize(self, payment_id: str, method: str | None = "klarnapaylater") -> dict[str, Any]:
        """The payment is authorized and waits for a capture."""
        return self._status(payment_id, "authorized", method)

    def fail(self, payment_id: str) -> dict[str, Any]:
        """The payment failed."""
        return self._status(payment_id, "failed")

    def expire(self, payment_id: str) -> dict[str, Any]:
        """The payment expired."""
        return self._status(payment_id, "expired")

    def cancel(self, payment_id: str) -> dict[str, Any]:
        """The customer (or merchant) canceled the payment."""
        return self._status(payment_id, "canceled")

    # -- refunds and chargebacks --------------------------------------------------------

    def _recompute(self, payment: dict[str, Any]) -> None:
        currency = payment["amount"]["currency"]
        refunded = sum(
            self._minor(r)
            for r in self.refunds.get(payment["id"], [])
            if r["status"] not in ("failed", "canceled")
        )
        charged = sum(
            self._minor(c)
            for c in self.chargebacks.get(payment["id"], [])
            if c["reversedAt"] is None
        )
        payment["amountRefunded"] = _money(refunded, currency)
        payment["amountRemaining"] = _money(self._minor(payment) - refunded - charged, currency)
        if payment["id"] in self.chargebacks:
            payment["amountChargedBack"] = _money(charged, currency)

    def refund(
        self,
        payment_id: str,
        amount_minor: int | None = None,
        *,
        status: str = "pending",
        description: str = "",
        metadata: Any = None,
    ) -> dict[str, Any]:
        """Refund a paid payment: everything that remains when `amount_minor` is None."""
        payment = self._get(payment_id)
        if payment["status"] != "paid":
            raise errors.Conflict("only paid payments can be refunded", payment_id=payment_id)
        remaining = self._minor(payment, "amountRemaining")
        amount = remaining if amount_minor is None else amount_minor
        if not 0 < amount <= remaining:
            raise errors.Conflict(
                f"refund of {amount} exceeds the remaining {remaining}", payment_id=payment_id
            )
        currency = payment["amount"]["currency"]
        refund = {
            "resource": "refund",
            "id": self.new_id("re_"),
            "amount": _money(amount, currency),
            "status": status,
            "createdAt": _iso(self.clock()),
            "description": description,
            "metadata": metadata,
            "paymentId": payment_id,
            "settlementAmount": _money(-amount, currency),
        }
        self.refunds.setdefault(payment_id, []).append(refund)
        self.created[refund["id"]] = len(self.created)
        self._recompute(payment)
        self._changed(payment_id, f"refund.{status}")
        return refund

    def validate_refund(
        self, payment: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """The first problem of a refund body for `payment` as ``(field, detail)``, or None.

        Only the body's shape and the payment's state are checked here; whether the amount
        fits what remains is `refund`'s `errors.Conflict`.
        """
        if payment["status"] != "paid":
            return "amount", f"The payment is {payment['status']} and cannot be refunded."
        problem = _amount_problem(body.get("amount"))
        if problem is None and body["amount"]["currency"] != payment["amount"]["currency"]:
            problem = "amount.currency", "The currency must match the payment's currency."
        return (
            problem
            or _refund_description_problem(body.get("description"))
            or _metadata_problem(body.get("metadata"))
        )

    def find(self, kind: str, payment_id: str, item_id: str) -> dict[str, Any] | None:
        """The refund or chargeback (`kind`: ``refunds``/``chargebacks``) of a payment, or None."""
        table: dict[str, list[dict[str, Any]]] = getattr(self, kind)
        return next((item for item in table.get(payment_id, []) if item["id"] == item_id), None)

    def cancel_refund(self, payment_id: str, refund_id: str) -> dict[str, Any]:
        """Cancel a refund that is still ``queued`` or ``pending`` (Mollie's rule).

        Raises:
            errors.NotFound: No such refund on this payment.
            errors.Conflict: The refund is already processing or done.
        """
        refund = self.find("refunds", payment_id, refund_id)
        if refund is None:
            raise errors.NotFound(f"no refund {refund_id}", refund_id=refund_id)
        if refund["status"] not in _CANCELABLE_REFUNDS:
            raise errors.Conflict(f"a {refund['status']} refund cannot be canceled")
        return self.set_refund_status(refund_id, "canceled")

    def listing(self, kind: str, mode: str, payment_id: str | None = None) -> list[dict[str, Any]]:
        """Payments, refunds or chargebacks of `mode` (of one payment when given), newest first.

        Args:
            kind: ``payments``, ``refunds`` or ``chargebacks``.
            mode: ``test`` or ``live``: the API key's mode.
            payment_id: Only this payment's refunds or chargebacks.
        """
        payments = [p for p in self.payments.values() if p["mode"] == mode]
        if payment_id is not None:
            payments = [p for p in payments if p["id"] == payment_id]
        if kind == "payments":
            found = payments
        else:
            table: dict[str, list[dict[str, Any]]] = getattr(self, kind)
            found = [item for p in payments for item in table.get(p["id"], [])]
        return sorted(found, key=lambda item: self.created[item["id"]], reverse=True)

    def set_refund_status(self, refund_id: str, status: str) -> dict[str, Any]:
        """Move a refund to `status` (e.g. ``refunded``, ``failed``, ``canceled``)."""
        if status not in _REFUND_STATUSES:
            raise errors.Conflict(f"unknown refund status {status!r}")
        for payment_id, refunds in self.refunds.items():
            for refund in refunds:
                if refund["id"] == refund_id:
                    refund["status"] = status
                    self._recompute(self._get(payment_id))
                    self._changed(payment_id, f"refund.{status}")
                    return refund
        raise errors.NotFound(f"no refund {refund_id}", refund_id=refund_id)

    def chargeback(
        self, payment_id: str, amount_minor: int | None = None, *, reason: str = "AC01"
    ) -> dict[str, Any]:
        """The customer's bank charged a paid payment back (all of it when no amount)."""
        payment = self._get(payment_id)
        if payment["status"] != "paid":
            raise errors.Conflict("only paid payments can be charged back", payment_id=payment_id)
        currency = payment["amount"]["currency"]
        amount = self._minor(payment) if amount_minor is None else amount_minor
        chargeback: dict[str, Any] = {
            "resource": "chargeback",
            "id": self.new_id("chb_", 6),
            "amount": _money(amount, currency),
            "settlementAmount": _money(-amount, currency),
            "createdAt": _iso(self.clock()),
            "reason": {"code": reason, "description": "Simulated chargeback"},
            "reversedAt": None,
            "paymentId": payment_id,
        }
        self.chargebacks.setdefault(payment_id, []).append(chargeback)
        self.created[chargeback["id"]] = len(self.created)
        self._recompute(payment)
        self._changed(payment_id, "chargeback.received")
        return chargeback

    def reverse_chargeback(self, chargeback_id: str) -> dict[str, Any]:
        """The chargeback was reversed (the money came back to the merchant)."""
        for payment_id, chargebacks in self.chargebacks.items():
            for chargeback in chargebacks:
                if chargeback["id"] == chargeback_id:
                    chargeback["reversedAt"] = _iso(self.clock())
                    self._recompute(self._get(payment_id))
                    self._changed(payment_id, "chargeback.reversed")
                    return chargeback
        raise errors.NotFound(f"no chargeback {chargeback_id}", chargeback_id=chargeback_id)

    # -- rendering ----------------------------------------------------------------------

    def render(
        self, payment: Mapping[str, Any], base: str, embed: Collection[str] = ()
    ) -> dict[str, Any]:
        """The payment as the API answers it: HAL links and the asked-for embeds."""
        pid = payment["id"]
        out = dict(payment)
        links: dict[str, Any] = {
            "self": {"href": f"{base}/v2/payments/{pid}", "type": "application/hal+json"},
            "dashboard": {"href": f"{base}/dashboard/payments/{pid}", "type": "text/html"},
            "documentation": {
                "href": "https://docs.mollie.com/reference/get-payment",
                "type": "text/html",
            },
        }
        if payment["status"] == "open":
            token = pid.removeprefix("tr_")
            links["checkout"] = {
                "href": f"{base}/checkout/select-method/{token}",
                "type": "text/html",
            }
        for name in ("refunds", "chargebacks"):
            if getattr(self, name).get(pid):
                links[name] = {
                    "href": f"{base}/v2/payments/{pid}/{name}",
                    "type": "application/hal+json",
                }
        out["_links"] = links
        embedded = {
            name: [self.render_sub(item, base) for item in getattr(self, name).get(pid, [])]
            for name in ("refunds", "chargebacks")
            if name in embed and getattr(self, name).get(pid)
        }
        if embedded:
            out["_embedded"] = embedded
        return out

    def render_sub(self, item: Mapping[str, Any], base: str) -> dict[str, Any]:
        """A refund or chargeback with its HAL links."""
        kind = "refunds" if item["resource"] == "refund" else "chargebacks"
        pid = item["paymentId"]
        return dict(item) | {
            "_links": {
                "self": {
                    "href": f"{base}/v2/payments/{pid}/{kind}/{item['id']}",
                    "type": "application/hal+json",
                },
                "payment": {"href": f"{base}/v2/payments/{pid}", "type": "application/hal+json"},
            }
        }

    def dump(self, base: str | None = None) -> dict[str, Any]:
        """A JSON view of the account for `GET /_sim/state` and tests."""
        return {
            "payments": [
                self.render(p, base or self.public_url, _EMBEDS) for p in self.payments.values()
            ],
            "changes": [{"payment_id": c.payment_id, "event": c.event} for c in self.changes],
            "idempotency_keys": len(self.idempotency),
            "requests": self.requests,
        }
