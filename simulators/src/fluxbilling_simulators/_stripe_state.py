"""The simulated Stripe account: Checkout Sessions, PaymentIntents, charges, refunds, disputes.

Plain data plus the rules that change it; HTTP lives in `simulators.stripe`, the webhook
notifier in `simulators._stripe_notifier`, request parsing in `simulators._stripe_params`
and the event records in `simulators._stripe_events`. Used from one event loop: no method
awaits, so every change is atomic.

A session's PaymentIntent (and its charge) appears only when the customer confirms, as in
API versions since 2022-08-01; before that ``payment_intent`` is null. The test helpers
drive what Checkout and the card networks would:

| helper        | session after   | PaymentIntent, charge           | events queued, in order     |
|---------------|-----------------|---------------------------------|-----------------------------|
| `pay`         | complete paid   | succeeded, succeeded            | payment_intent.succeeded,   |
|               |                 |                                 | checkout.session.completed  |
| `pay_delayed` | complete unpaid | processing, pending             | payment_intent.processing,  |
|               |                 |                                 | checkout.session.completed  |
| `settle`      | paid            | succeeded, succeeded            | payment_intent.succeeded,   |
|               |                 |                                 | ...async_payment_succeeded  |
| `settle` fail | unpaid          | requires_payment_method, failed | ...payment_failed,          |
|               |                 |                                 | ...async_payment_failed     |
| `expire`      | expired         | (none)                          | checkout.session.expired    |
| `refund`      | (unchanged)     | charge ``amount_refunded`` +=   | charge.refunded             |
| `dispute`     | (unchanged)     | charge ``disputed``             | charge.dispute.created      |

``POST /v1/refunds`` (`create_refund`) and ``.../expire`` (`expire_open`) do what `refund`
and `expire` do, answering Stripe's refusals as a `Problem` instead of raising.

Every event is stored with its exact body (Stripe's envelope, ``data.object`` a snapshot of
the object at that moment, linked objects as ids) and queued for the notifier. The PaymentIntent
copies its metadata (``payment_intent_data.metadata``) to the charge, as Stripe does once at
confirmation. No ``refund.created`` is queued: our ledger counts refunds from the cumulative
``charge.refunded``, and an endpoint subscribed to both would see each refund twice.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fluxbilling import errors
from fluxbilling_simulators import _stripe_params
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators._stripe_events import (
    ALPHABET,
    API_VERSION,
    Attempt,
    Event,
    delivery_outcome,
    event_body,
)
from fluxbilling_simulators._stripe_params import Problem, decode_form

__all__ = [
    "API_VERSION",
    "SECRET_KEY",
    "Attempt",
    "Event",
    "Problem",
    "Saved",
    "StripeState",
    "decode_form",
    "delivery_outcome",
    "event_body",
]

SECRET_KEY = re.compile(r"sk_(test|live)_[A-Za-z0-9_]+")
_PREFIXES = {
    "cs_": "sessions",
    "pi_": "intents",
    "ch_": "charges",
    "re_": "refunds",
    "dp_": "disputes",
}
SESSION_LIFETIME = 24 * 3600
# The parameters of POST /v1/refunds that name an object: (param, kind, id prefix).
_REFUND_TARGETS = (("payment_intent", "payment_intent", "pi_"), ("charge", "charge", "ch_"))


@dataclass(frozen=True, slots=True)
class Saved:
    """A saved idempotent result: the request it answered and the response to replay."""

    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


@dataclass
class StripeState:
    """Everything the simulator knows; tests read the object dicts and steer with the helpers.

    Attributes:
        secret_keys: Accepted secret keys; empty accepts any ``sk_test_...``/``sk_live_...``.
        faults: Latency, random and forced failures, 409 key-in-use on create
            (``exists_next``), crash after create.
        seed: Seeds the id generator.
        clock: Unix seconds now (injectable for deterministic timestamps).
    """

    secret_keys: frozenset[str] = frozenset()
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    clock: Callable[[], float] = time.time
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    attempts: list[Attempt] = field(default_factory=list)
    idempotency: dict[tuple[str, str], Saved] = field(default_factory=dict)
    requests: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation ids, not secrets

    def new_id(self, prefix: str, length: int = 24) -> str:
        """A random id such as ``pi_3MtwBwLkdIwHu7ix28a3tqPa`` (seeded)."""
        return prefix + "".join(self.rng.choice(ALPHABET) for _ in range(length))

    def now(self) -> int:
        """Unix seconds now, from `clock`."""
        return int(self.clock())

    def mode_of(self, authorization: str | None) -> str | None:
        """The mode (``test``/``live``) of a valid ``Bearer`` secret key, None otherwise."""
        scheme, _, key = (authorization or "").partition(" ")
        if scheme != "Bearer" or not SECRET_KEY.fullmatch(key):
            return None
        if self.secret_keys and key not in self.secret_keys:
            return None
        return key.split("_", 2)[1]

    # -- creating and reading ------------------------------------------------------------

    @staticmethod
    def validate_expand(paths: object) -> Problem | None:
        """Whether every ``expand[]`` path names expandable fields only."""
        return _stripe_params.validate_expand(paths)

    def validate_create(self, params: Mapping[str, Any]) -> list[dict[str, Any]] | Problem:
        """The normalised line items of a valid create, or the first problem (Stripe: 400)."""
        return _stripe_params.validate_create(params)

    def create_session(
        self, params: Mapping[str, Any], items: list[dict[str, Any]], mode: str
    ) -> dict[str, Any]:
        """Store an ``open`` session from validated parameters (`validate_create`)."""
        now = self.now()
        total = sum(item["unit_amount"] * item["quantity"] for item in items)
        intent_data = params.get("payment_intent_data") or {}
        session: dict[str, Any] = {
            "id": self.new_id(f"cs_{mode}_a1", 58),
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": items[0]["currency"],
            "customer": None,
            "expires_at": now + SESSION_LIFETIME,
            "livemode": mode == "live",
            "metadata": dict(params.get("metadata") or {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": None,
            "_line_items": items,
            "_intent_metadata": dict(intent_data.get("metadata") or {}),
            "_intent_description": intent_data.get("description"),
        }
        self.sessions[session["id"]] = session
        return session

    def lookup(self, object_id: str, mode: str | None = None) -> dict[str, Any] | None:
        """Any object by id (of this mode, when given), or None."""
        table = next((t for p, t in _PREFIXES.items() if object_id.startswith(p)), None)
        found: dict[str, Any] | None = (
            None if table is None else getattr(self, table).get(object_id)
        )
        if found is None or (mode is not None and found["livemode"] != (mode == "live")):
            return None
        return found

    def render(
        self, obj: Mapping[str, Any], base: str = "", expand: Sequence[str] = ()
    ) -> dict[str, Any]:
        """An object as the API answers it: no private fields, ``url`` only while open, and
        linked ids replaced by objects along the ``expand`` paths."""
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if out["object"] == "checkout.session":
            out["url"] = f"{base}/c/pay/{out['id']}" if out["status"] == "open" else None
        for path in expand:
            self._expand(out, path.split("."), base)
        return out

    def _expand(self, obj: dict[str, Any], path: list[str], base: str) -> None:
        value = obj.get(path[0])
        if isinstance(value, str) and (target := self.lookup(value)) is not None:
            value = obj[path[0]] = self.render(target, base)
        if isinstance(value, dict) and len(path) > 1:
            self._expand(value, path[1:], base)

    # -- driving a session (test helpers) ------------------------------------------------

    def session(self, session_id: str) -> dict[str, Any]:
        """The stored session (private fields included).

        Raises:
            errors.NotFound: No such session.
        """
        found = self.sessions.get(session_id)
        if found is None:
            raise errors.NotFound(f"no Checkout Session {session_id}", session_id=session_id)
        return found

    def _require(self, session: Mapping[str, Any], status: str) -> None:
        if session["status"] != status:
            raise errors.Conflict(
                f"session {session['id']} is {session['status']}, not {status}",
                session_id=session["id"],
            )

    def _emit(self, event_type: str, obj: Mapping[str, Any], session: Mapping[str, Any]) -> None:
        event_id = self.new_id("evt_")
        body = event_body(
            event_id, event_type, self.render(obj), livemode=obj["livemode"], created=self.now()
        )
        self.events[event_id] = Event(
            event_id, event_type, body, obj["id"], session["id"], obj["livemode"]
        )
        self.queue.append(event_id)

    def _confirm(self, session: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The customer confirmed: the PaymentIntent and its (pending) charge appear."""
        self._require(session, "open")
        now, amount, currency = self.now(), session["amount_total"], session["currency"]
        livemode, metadata = session["livemode"], session["_intent_metadata"]
        intent: dict[str, Any] = {
            "id": self.new_id("pi_"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": "automatic_async",
            "created": now,
            "currency": currency,
            "description": session["_intent_description"],
            "latest_charge": None,
            "livemode": livemode,
            "metadata": dict(metadata),
            "payment_method_types": list(session["payment_method_types"]),
            "status": "processing",
        }
        charge: dict[str, Any] = {
            "id": self.new_id("ch_"),
            "object": "charge",
            "amount": amount,
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "created": now,
            "currency": currency,
            "disputed": False,
            "livemode": livemode,
            "metadata": dict(metadata),
            "paid": False,
            "payment_intent": intent["id"],
            "refunded": False,
            "status": "pending",
        }
        intent["latest_charge"] = charge["id"]
        self.intents[intent["id"]] = intent
        self.charges[charge["id"]] = charge
        session.update(status="complete", payment_intent=intent["id"])
        return intent, charge

    def _succeed(
        self, session: dict[str, Any], intent: dict[str, Any], charge: dict[str, Any]
    ) -> None:
        intent.update(status="succeeded", amount_received=intent["amount"])
        charge.update(
            status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
        )
        session["payment_status"] = "paid"

    def _processing(self, session_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        session = self.session(session_id)
        intent = self.intents.get(session["payment_intent"] or "")
        if intent is None or intent["status"] != "processing":
            raise errors.Conflict(f"session {session_id} has no payment processing")
        return session, intent, self.charges[intent["latest_charge"]]

    def pay(self, session_id: str) -> dict[str, Any]:
        """The customer pays by card: the session completes paid (see the module table)."""
        session = self.session(session_id)
        intent, charge = self._confirm(session)
        self._succeed(session, intent, charge)
        self._emit("payment_intent.succeeded", intent, session)
        self._emit("checkout.session.completed", session, session)
        return self.render(session)

    def pay_delayed(self, session_id: str) -> dict[str, Any]:
        """The customer pays with a delayed method (SEPA debit...): complete but unpaid."""
        session = self.session(session_id)
        intent, _ = self._confirm(session)
        self._emit("payment_intent.processing", intent, session)
        self._emit("checkout.session.completed", session, session)
        return self.render(session)

    def settle(self, session_id: str, succeeded: bool = True) -> dict[str, Any]:
        """A delayed payment's outcome arrives (``pay_delayed`` first)."""
        session, intent, charge = self._processing(session_id)
        if succeeded:
            self._succeed(session, intent, charge)
            self._emit("payment_intent.succeeded", intent, session)
            self._emit("checkout.session.async_payment_succeeded", session, session)
        else:
            intent["status"] = "requires_payment_method"
            charge["status"] = "failed"
            self._emit("payment_intent.payment_failed", intent, session)
            self._emit("checkout.session.async_payment_failed", session, session)
        return self.render(session)

    def expire(self, session_id: str) -> dict[str, Any]:
        """An open session expires (its 24 h passed, or ``POST .../expire``)."""
        session = self.session(session_id)
        self._require(session, "open")
        session["status"] = "expired"
        self._emit("checkout.session.expired", session, session)
        return self.render(session)

    def paid_charge(self, session_id: str) -> dict[str, Any]:
        """The succeeded charge of a paid session.

        Raises:
            errors.NotFound: No such session.
            errors.Conflict: The session is not paid.
        """
        session = self.session(session_id)
        if session["payment_status"] != "paid":
            raise errors.Conflict(f"session {session_id} is not paid", session_id=session_id)
        return self.charges[self.intents[session["payment_intent"]]["latest_charge"]]

    def refund(self, session_id: str, amount_minor: int | None = None) -> dict[str, Any]:
        """Refund a paid session (what remains when `amount_minor` is None); returns the
        refund. ``charge.refunded`` carries the cumulative ``amount_refunded``."""
        charge = self.paid_charge(session_id)
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining if amount_minor is None else amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= remaining:
            raise errors.Conflict(f"cannot refund {amount!r} of the {remaining} remaining")
        return self._refund(charge, amount, None, {})

    def _refund(
        self, charge: dict[str, Any], amount: int, reason: str | None, metadata: dict[str, str]
    ) -> dict[str, Any]:
        refund = {
            "id": self.new_id("re_"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": self.now(),
            "currency": charge["currency"],
            "livemode": charge["livemode"],
            "metadata": dict(metadata),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        session = next(
            s for s in self.sessions.values() if s["payment_intent"] == charge["payment_intent"]
        )
        self._emit("charge.refunded", charge, session)
        return refund

    def _refundable(self, params: Mapping[str, Any], mode: str) -> dict[str, Any] | Problem:
        """The charge a ``POST /v1/refunds`` names (directly or by its PaymentIntent)."""
        intent: dict[str, Any] | None = None
        for name, kind, prefix in _REFUND_TARGETS:
            object_id = params.get(name)
            if object_id is None:
                continue
            found = self.lookup(object_id, mode) if object_id.startswith(prefix) else None
            if found is None:
                message = f"No such {kind}: '{object_id}'"
                return Problem(name, message, "resource_missing", status=404)
            intent = found if kind == "payment_intent" else intent
        charge_id = params.get("charge") or (intent or {}).get("latest_charge")
        charge = self.charges.get(charge_id or "")
        if intent is not None and (charge is None or charge["payment_intent"] != intent["id"]):
            return Problem("charge", f"Charge {charge_id} does not belong to {intent['id']}.")
        if charge is None or charge["status"] != "succeeded":
            name, what = ("payment_intent", "PaymentIntent") if intent else ("charge", "Charge")
            object_id = params[name]
            message = f"This {what} ({object_id}) does not have a successful charge to refund."
            return Problem(name, message, None)
        return charge

    def create_refund(self, params: Mapping[str, Any], mode: str) -> dict[str, Any] | Problem:
        """``POST /v1/refunds`` on well-formed parameters (`validate_refund`): the refund, or
        why Stripe refuses it (unknown, unpaid, disputed or fully refunded charge, too much)."""
        charge = self._refundable(params, mode)
        if isinstance(charge, Problem):
            return charge
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount", remaining))
        if charge["disputed"]:
            message = f"Charge {charge['id']} has been charged back; cannot issue a refund."
            return Problem("charge", message, "charge_disputed")
        if remaining == 0:
            message = f"Charge {charge['id']} has already been refunded."
            return Problem("charge", message, "charge_already_refunded")
        if amount > remaining:
            message = (
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})"
            )
            return Problem("amount", message, "amount_too_large")
        return self._refund(charge, amount, params.get("reason"), params.get("metadata") or {})

    def dispute(self, session_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        """The cardholder's bank opens a dispute on the charge (one per charge)."""
        charge = self.paid_charge(session_id)
        if charge["disputed"]:
            raise errors.Conflict(f"charge {charge['id']} is already disputed")
        dispute = {
            "id": self.new_id("dp_"),
            "object": "dispute",
            "amount": charge["amount"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": self.now(),
            "currency": charge["currency"],
            "is_charge_refundable": False,
            "livemode": charge["livemode"],
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "needs_response",
        }
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        self._emit("charge.dispute.created", dispute, self.session(session_id))
        return dispute

    def expire_open(self, session_id: str) -> dict[str, Any] | Problem:
        """``POST /v1/checkout/sessions/{id}/expire``: `expire`, or Stripe's 400 when the
        session is no longer open."""
        session = self.session(session_id)
        if session["status"] != "open":
            message = (
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f"Session has a status of `{session['status']}`."
            )
            return Problem("", message, None)
        return self.expire(session_id)

    # -- inspection ----------------------------------------------------------------------

    def event_view(self, event: Event) -> dict[str, Any]:
        """An event as ``GET /v1/events`` shows it: the body it was sent with, its
        ``pending_webhooks`` as of now, and (private, for the ``delivery_success`` filter)
        whether it was delivered."""
        body: dict[str, Any] = json.loads(event.body)
        delivered = event.state == "delivered"
        return {**body, "pending_webhooks": 0 if delivered else 1, "_delivered": delivered}

    def dump(self, base: str = "") -> dict[str, Any]:
        """A JSON view of the account for ``GET /_sim/state`` (event bodies left out)."""
        return {
            "sessions": [self.render(s, base) for s in self.sessions.values()],
            "payment_intents": list(self.intents.values()),
            "charges": list(self.charges.values()),
            "refunds": list(self.refunds.values()),
            "disputes": list(self.disputes.values()),
            "events": [
                {k: v for k, v in asdict(e).items() if k != "body"} for e in self.events.values()
            ],
            "queue": list(self.queue),
            "attempts": [asdict(a) for a in self.attempts],
            "idempotency_keys": len(self.idempotency),
            "requests": self.requests,
        }
