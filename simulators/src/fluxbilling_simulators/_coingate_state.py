"""The simulated CoinGate world: orders, their status machine and the callback outbox.

Plain data plus the rules that change it; HTTP and the notifier live in
`simulators.coingate`. Used from one asyncio loop: no method awaits, so every change is atomic.

Order statuses (CoinGate's "statuses by priority"; the table is `_TRANSITIONS`):

| from               | to                                                             |
|--------------------|----------------------------------------------------------------|
| new                | pending, expired, canceled                                     |
| pending            | confirming, paid (CoinGate may skip confirming), invalid,      |
|                    | expired, canceled                                              |
| confirming         | paid, invalid                                                  |
| paid               | partially_refunded, refunded                                   |
| partially_refunded | partially_refunded, refunded                                   |

Every change to a status in `CALLBACK_STATUSES` queues one `Callback` carrying a snapshot of
the order *at that moment* (so a stale callback delivered late says what it said then).

Callback records and delivery rules (`Callback`, `Attempt`, `delivery_outcome`,
`encode_callback`, `retry_delay`) live in `simulators._coingate_callbacks` and are
re-exported here.
"""

from __future__ import annotations

import random
import string
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import amounts as coingate_amounts
from fluxbilling_simulators._coingate_callbacks import (
    CALLBACK_STATUSES,
    MAX_RETRIES,
    Attempt,
    Callback,
    Outcome,
    delivery_outcome,
    encode_callback,
    retry_delay,
)
from fluxbilling_simulators._faults import Faults

__all__ = [
    "CALLBACK_STATUSES",
    "MAX_RETRIES",
    "Attempt",
    "Callback",
    "CoinGateState",
    "Outcome",
    "delivery_outcome",
    "encode_callback",
    "retry_delay",
]

_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"pending", "expired", "canceled"}),
    "pending": frozenset({"confirming", "paid", "invalid", "expired", "canceled"}),
    "confirming": frozenset({"paid", "invalid"}),
    "paid": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
}
# What one unit is worth in EUR, for pay and receive amounts (fixed: tests need stable sums).
_EUR_VALUE = {
    "EUR": "1",
    "USD": "0.92",
    "GBP": "1.17",
    "CHF": "1.05",
    "JPY": "0.0061",
    "KWD": "3.0",
    "BTC": "60000",
    "ETH": "3000",
    "LTC": "80",
    "USDT": "0.92",
    "USDC": "0.92",
}
PAY_CURRENCIES = frozenset({"BTC", "ETH", "LTC", "USDT", "USDC"})
DO_NOT_CONVERT = "DO_NOT_CONVERT"
_SATOSHI = Decimal("0.00000001")
_REFUND_FIELDS = (
    "amount",
    "address",
    "currency_id",
    "platform_id",
    "reason",
    "email",
    "ledger_account_id",
)
_TOKEN_ALPHABET = string.ascii_letters + string.digits


def ruby_decimal(value: Decimal) -> str:
    """How CoinGate (Rails ``BigDecimal#to_s``) prints amounts: ``10.0``, ``19.99``, ``0``."""
    if value == 0:
        return "0"
    text = f"{value.normalize():f}"
    return text if "." in text else text + ".0"


def _amount(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise errors.UserError(f"{name} is not a decimal: {text!r}") from exc
    if not value.is_finite():
        raise errors.UserError(f"{name} is not a decimal: {text!r}")
    return value


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _price_problems(amount: str) -> list[str]:
    if not amount:
        return ["Price amount can't be blank"]
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return ["Price amount is not a number"]
    if not value.is_finite():
        return ["Price amount is not a number"]
    return [] if value > 0 else ["Price amount must be greater than 0"]


def _length_problems(name: str, text: str, longest: int) -> list[str]:
    # Optional (CoinGate's reference and its own SDK): only a given value is checked.
    if not text:
        return []
    if len(text) < 3:
        return [f"{_label(name)} is too short (minimum is 3 characters)"]
    if len(text) > longest:
        return [f"{_label(name)} is too long (maximum is {longest} characters)"]
    return []


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass
class CoinGateState:
    """Everything the simulator knows; tests read `orders`, `callbacks` and `attempts`.

    Attributes:
        api_token: The only accepted ``Authorization: Token ...`` value.
        sandbox: Sandbox (``pay-sandbox`` payment URLs) or live.
        faults: Latency, forced/random 4xx/5xx/timeouts, crash after create
            (`simulators._faults.Faults`; ``exists_next`` does not apply: CoinGate has no
            uniqueness on ``order_id``).
        callback_format: The API app's callback format, ``form`` (CoinGate's default) or ``json``.
        refuse_private_networks: Terminate callbacks to localhost/private/TOR URLs without
            sending, as CoinGate does (off by default: test receivers are local).
        callback_ips: What ``GET /v2/ips-v4`` lists.
        seed: Seeds `rng` (invoice uuids, tokens CoinGate generates when we send none).
        clock: The current time (UTC).
    """

    api_token: str = "sim-coingate-token"  # noqa: S105 - the simulator's well-known test token
    sandbox: bool = True
    faults: Faults = field(default_factory=Faults)
    callback_format: str = "form"
    refuse_private_networks: bool = False
    callback_ips: tuple[str, ...] = ("192.0.2.10", "192.0.2.11")
    seed: int = 0
    clock: Callable[[], datetime] = _now
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    callbacks: dict[int, Callback] = field(default_factory=dict)
    queue: deque[int] = field(default_factory=deque)
    attempts: list[Attempt] = field(default_factory=list)
    requests: int = 0
    rng: random.Random = field(init=False, repr=False)
    _next_order: int = field(default=10_000, init=False, repr=False)
    _next_callback: int = field(default=1, init=False, repr=False)
    _next_refund: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography

    # --- creating -----------------------------------------------------------------------

    @staticmethod
    def supported(currency: str) -> bool:
        """Whether CoinGate (here) prices in `currency`: ISO 4217 fiat or a pay currency."""
        return coingate_amounts.exponent(currency) is not None or currency.upper() in PAY_CURRENCIES

    def validate_create(self, body: Mapping[str, str]) -> list[str]:
        """CoinGate-style (Rails) error messages for a create body; empty when valid."""
        problems = _price_problems(body.get("price_amount", "").strip())
        currency = body.get("price_currency", "").strip()
        if not currency:
            problems.append("Price currency can't be blank")
        elif not self.supported(currency):
            problems.append("Price currency is not supported")
        receive = body.get("receive_currency", "").strip()
        if receive and receive.upper() != DO_NOT_CONVERT and not self.supported(receive):
            problems.append("Receive currency is not supported")
        for name, longest in (("title", 150), ("description", 500)):
            problems.extend(_length_problems(name, body.get(name, "").strip(), longest))
        for name in ("callback_url", "success_url", "cancel_url"):
            url = body.get(name, "")
            parts = urlsplit(url)
            if url and (parts.scheme not in ("http", "https") or not parts.netloc):
                problems.append(f"{_label(name)} is not a valid URL")
        return problems

    def create_order(self, body: Mapping[str, str]) -> dict[str, Any]:
        """Store a ``new`` order from a valid body; return the create response (token included)."""
        order_id = self._next_order
        self._next_order += 1
        invoice = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        receive = body.get("receive_currency", "").strip().upper()
        host = "pay-sandbox.coingate.com" if self.sandbox else "pay.coingate.com"
        order: dict[str, Any] = {
            "id": order_id,
            "status": "new",
            "title": body.get("title", "").strip() or None,
            "do_not_convert": receive == DO_NOT_CONVERT,
            "orderable_type": "ApiApp",
            "orderable_id": 1,
            "price_currency": body["price_currency"].strip().upper(),
            "price_amount": ruby_decimal(Decimal(body["price_amount"].strip())),
            "lightning_network": False,
            "receive_currency": receive,
            "receive_amount": "0",
            "created_at": _iso(self.clock()),
            "order_id": body.get("order_id", ""),
            "payment_url": f"https://{host}/invoice/{invoice}",
            "underpaid_amount": "0",
            "overpaid_amount": "0",
            "is_refundable": False,
            "refunds": [],
            "voids": [],
            "fees": [],
            "blockchain_transactions": [],
            # Not part of CoinGate's order view:
            "_token": body.get("token") or self._random_token(),
            "_callback_url": body.get("callback_url", ""),
            "_success_url": body.get("success_url", ""),
            "_cancel_url": body.get("cancel_url", ""),
            "_description": body.get("description", ""),
        }
        self.orders[order_id] = order
        return {**self.public(order), "token": order["_token"]}

    def _random_token(self) -> str:
        # Shaped like the token in CoinGate's create-order example (30 alphanumerics).
        return "".join(self.rng.choice(_TOKEN_ALPHABET) for _ in range(30))

    @staticmethod
    def public(order: Mapping[str, Any]) -> dict[str, Any]:
        """The order as ``GET /v2/orders/{id}`` shows it (no token, no URLs we sent)."""
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def order(self, order_id: int) -> dict[str, Any]:
        """The stored order (private fields included).

        Raises:
            errors.NotFound: No such order.
        """
        found = self.orders.get(order_id)
        if found is None:
            raise errors.NotFound(f"no CoinGate order {order_id}", order_id=order_id)
        return found

    # --- driving an order (test helpers) ------------------------------------------------

    def _move(self, order: dict[str, Any], status: str) -> dict[str, Any]:
        if status not in _TRANSITIONS.get(order["status"], frozenset()):
            raise errors.Conflict(
                f"order {order['id']} is {order['status']}; it cannot become {status}",
                order_id=order["id"],
            )
        order["status"] = status
        url = order["_callback_url"]
        if url and status in CALLBACK_STATUSES:
            callback = Callback(
                id=self._next_callback,
                order_id=order["id"],
                status=status,
                url=url,
                fields=self.callback_fields(order),
            )
            self._next_callback += 1
            self.callbacks[callback.id] = callback
            self.queue.append(callback.id)
        return self.public(order)

    @staticmethod
    def _require(order: Mapping[str, Any], *statuses: str) -> None:
        if order["status"] not in statuses:
            raise errors.Conflict(
                f"order {order['id']} is {order['status']}, not {' or '.join(statuses)}",
                order_id=order["id"],
            )

    def _pending(self, order_id: int) -> dict[str, Any]:
        order = self.order(order_id)
        if order["status"] == "new":
            self.choose_currency(order_id)
        self._require(order, "pending")
        return order

    @staticmethod
    def _rate(currency: str) -> Decimal:
        # Fiat without a listed rate counts as 1 EUR: only stable, not realistic, sums matter.
        return Decimal(_EUR_VALUE.get(currency.upper(), "1"))

    def choose_currency(self, order_id: int, pay_currency: str = "BTC") -> dict[str, Any]:
        """The shopper picks a crypto: ``new`` → ``pending`` (20 minutes to pay).

        ``underpaid_amount`` starts equal to ``pay_amount``, as in CoinGate's examples.
        """
        order = self.order(order_id)
        self._require(order, "new")
        pay = pay_currency.upper()
        if pay not in PAY_CURRENCIES:
            raise errors.UserError(f"{pay_currency!r} is not a pay currency here")
        price_eur = Decimal(order["price_amount"]) * self._rate(order["price_currency"])
        due = (price_eur / self._rate(pay)).quantize(_SATOSHI, rounding=ROUND_UP)
        moment = self.clock()
        order.update(
            pay_currency=pay,
            pay_amount=ruby_decimal(due),
            underpaid_amount=ruby_decimal(due),
            expire_at=_iso(moment + timedelta(minutes=20)),
            payment_address=f"sim-{pay.lower()}-{order['id']}",
            conversion_rate=ruby_decimal(self._rate(pay) / self._rate(order["price_currency"])),
        )
        return self._move(order, "pending")

    def _receive(self, order: dict[str, Any], amount: Decimal) -> None:
        order["blockchain_transactions"].append(
            {
                "id": len(order["blockchain_transactions"]) + 1,
                "txid": f"sim-tx-{order['id']}-{len(order['blockchain_transactions']) + 1}",
                "amount": ruby_decimal(amount),
                "status": "confirming",
                "network_confirmations": 0,
                "currency": {"symbol": order["pay_currency"]},
            }
        )

    def underpay(self, order_id: int, fraction: str = "0.5") -> dict[str, Any]:
        """A transaction for only `fraction` of what is still due arrives; the order stays
        ``pending`` showing the rest in ``underpaid_amount`` (no callback: CoinGate sends
        none for amount changes). Assumed: CoinGate's docs do not say the status here."""
        share = _amount(fraction, "fraction")
        if not 0 < share < 1:
            raise errors.UserError("fraction must lie strictly between 0 and 1")
        order = self._pending(order_id)
        missing = Decimal(order["underpaid_amount"])
        sent = (missing * share).quantize(_SATOSHI, rounding=ROUND_DOWN)
        self._receive(order, sent)
        order["underpaid_amount"] = ruby_decimal(missing - sent)
        return self.public(order)

    def pay(self, order_id: int, overpay: str = "0") -> dict[str, Any]:
        """The rest of the amount (plus `overpay`) arrives: ``pending`` → ``confirming``."""
        extra = _amount(overpay, "overpay")
        if extra < 0:
            raise errors.UserError("overpay cannot be negative")
        order = self._pending(order_id)
        self._receive(order, Decimal(order["underpaid_amount"]) + extra)
        order.update(underpaid_amount="0", overpaid_amount=ruby_decimal(extra))
        return self._move(order, "confirming")

    def _settle(self, order: dict[str, Any]) -> None:
        due = Decimal(order["pay_amount"])
        arrived = due - Decimal(order["underpaid_amount"])
        price = Decimal(order["price_amount"])
        target = order["receive_currency"] or order["pay_currency"]
        if target == DO_NOT_CONVERT:
            target = order["pay_currency"]
        value = price * arrived / due * self._rate(order["price_currency"]) / self._rate(target)
        fee = (value / 100).quantize(_SATOSHI)
        order.update(
            receive_amount=ruby_decimal((value - fee).quantize(_SATOSHI)),
            paid_at=_iso(self.clock()),
            is_refundable=True,
            fees=[
                {
                    "type": "processing_fee",
                    "amount": ruby_decimal(fee),
                    "currency": {"symbol": target},
                }
            ],
        )
        for tx in order["blockchain_transactions"]:
            tx.update(status="confirmed", network_confirmations=6)

    def confirm(self, order_id: int) -> dict[str, Any]:
        """The network confirms: ``confirming`` → ``paid``. From ``pending`` the rest arrives
        and is confirmed at once (CoinGate sometimes skips ``confirming``)."""
        order = self.order(order_id)
        self._require(order, "new", "pending", "confirming")
        if order["status"] != "confirming":
            order = self._pending(order_id)
            self._receive(order, Decimal(order["underpaid_amount"]))
            order["underpaid_amount"] = "0"
        self._settle(order)
        return self._move(order, "paid")

    def accept_underpaid(self, order_id: int) -> dict[str, Any]:
        """A partly paid ``pending`` order is marked ``paid`` with ``underpaid_amount`` kept
        (CoinGate's small-underpayment acceptance / the merchant's "accept underpaid")."""
        order = self._pending(order_id)
        if Decimal(order["underpaid_amount"]) in (0, Decimal(order["pay_amount"])):
            raise errors.Conflict(f"order {order_id} is not partly paid")
        self._settle(order)
        return self._move(order, "paid")

    def expire(self, order_id: int) -> dict[str, Any]:
        """``new``/``pending`` → ``expired`` (a partial payment stays visible)."""
        return self._move(self.order(order_id), "expired")

    def invalidate(self, order_id: int) -> dict[str, Any]:
        """``pending``/``confirming`` → ``invalid`` (not confirmed, or AML/CTF rejection)."""
        return self._move(self.order(order_id), "invalid")

    def cancel(self, order_id: int) -> dict[str, Any]:
        """The shopper cancels: ``new``/``pending`` → ``canceled``."""
        return self._move(self.order(order_id), "canceled")

    def refund(self, order_id: int, amount: str | None = None) -> dict[str, Any]:
        """A completed refund of `amount` (price currency; default: what is left):
        ``paid`` → ``partially_refunded`` or ``refunded``."""
        order = self.order(order_id)
        self._require(order, "paid", "partially_refunded")
        price = Decimal(order["price_amount"])
        done = sum((Decimal(r["request_amount"]) for r in order["refunds"]), Decimal(0))
        request = price - done if amount is None else _amount(amount, "amount")
        if not 0 < request <= price - done:
            raise errors.UserError(f"cannot refund {request} of the {price - done} left")
        pay = order["pay_currency"]
        crypto = request * self._rate(order["price_currency"]) / self._rate(pay)
        order["refunds"].append(
            {
                "id": self._next_refund,
                "request_amount": ruby_decimal(request),
                "refund_amount": ruby_decimal(crypto.quantize(_SATOSHI)),
                "address": f"sim-refund-{order['id']}",
                "status": "completed",
                "memo": None,
                "created_at": _iso(self.clock()),
                "order": {"id": order["id"]},
                "refund_currency": {"symbol": pay},
            }
        )
        self._next_refund += 1
        full = done + request >= price
        order["is_refundable"] = not full
        return self._move(order, "refunded" if full else "partially_refunded")

    def list_orders(
        self, sort: str = "created_at_desc", since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        """``GET /v2/orders``'s orders, public view: by creation time (``created_at_desc``
        or ``_asc``), created on or after `since` and on or before `until` (``YYYY-MM-DD``)."""
        found = [
            self.public(o)
            for o in self.orders.values()
            if (since is None or o["created_at"][:10] >= since)
            and (until is None or o["created_at"][:10] <= until)
        ]
        return found if sort == "created_at_asc" else found[::-1]

    def refunds_of(self, order_id: int | None = None) -> list[dict[str, Any]]:
        """The refunds of one order (every order's when None), newest first."""
        orders = self.orders.values() if order_id is None else [self.order(order_id)]
        found = [r for o in orders for r in o["refunds"]]
        return sorted(found, key=lambda r: r["id"], reverse=True)

    def request_refund(self, order_id: int, body: Mapping[str, str]) -> dict[str, Any]:
        """``POST /v2/orders/{id}/refunds``: a refund of ``amount`` (price currency) to
        ``address``, completed at once (the simulator has no refund processing), with the
        ``reason`` and ``email`` kept. Validate first with `validate_refund`.

        Raises:
            errors.NotFound: No such order.
            errors.Conflict: The order is not refundable (not paid, or fully refunded).
            errors.UserError: More than what is left.
        """
        self.refund(order_id, body["amount"].strip())
        refund: dict[str, Any] = self.orders[order_id]["refunds"][-1]
        refund.update(
            address=body["address"].strip(),
            memo=body.get("address_memo") or None,
            reason=body["reason"].strip(),
            email=body["email"].strip(),
        )
        return refund

    @staticmethod
    def validate_refund(body: Mapping[str, str]) -> list[str]:
        """CoinGate-style messages for a refund request body; empty when valid."""
        problems = [
            f"{_label(name)} can't be blank"
            for name in _REFUND_FIELDS
            if not body.get(name, "").strip()
        ]
        if not problems:
            problems = [
                p.replace("Price amount", "Amount") for p in _price_problems(body["amount"])
            ]
        return problems

    # --- callbacks and inspection -------------------------------------------------------

    def callback_fields(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The callback payload of `order` now (JSON types; `encode_callback` flattens it)."""
        fields: dict[str, Any] = {
            "id": order["id"],
            "order_id": order["order_id"],
            "status": order["status"],
            "pay_amount": order.get("pay_amount"),
            "pay_currency": order.get("pay_currency"),
            "price_amount": order["price_amount"],
            "price_currency": order["price_currency"],
            "receive_currency": order["receive_currency"],
            "receive_amount": order["receive_amount"],
            "created_at": order["created_at"],
            "token": order["_token"],
            "underpaid_amount": order["underpaid_amount"],
            "overpaid_amount": order["overpaid_amount"],
            "is_refundable": order["is_refundable"],
        }
        if order["status"] in ("paid", "refunded", "partially_refunded"):
            fields["fees"] = [dict(fee) for fee in order["fees"]]
        return fields

    def dump(self) -> dict[str, Any]:
        """A JSON view of the world for ``GET /_sim/state`` (tokens masked)."""
        return {
            "sandbox": self.sandbox,
            "callback_format": self.callback_format,
            "orders": [
                {**self.public(o), "callback_url": o["_callback_url"]} for o in self.orders.values()
            ],
            "callbacks": [c.to_dict() for c in self.callbacks.values()],
            "queue": list(self.queue),
            "attempts": [
                {
                    "callback_id": a.callback_id,
                    "order_id": a.order_id,
                    "order_status": a.order_status,
                    "attempt": a.attempt,
                    "http_status": a.http_status,
                    "error": a.error,
                    "outcome": a.outcome,
                    "would_retry": a.would_retry,
                    "retry_in": a.retry_in,
                    "manual": a.manual,
                }
                for a in self.attempts
            ],
            "requests": self.requests,
        }
