"""The simulated CoinGate's callback records and delivery rules.

`Callback` is one queued notification (the order's fields at a status change, and its
fate), `Attempt` one POST of it; `encode_callback` writes the body in the API app's format
(Rails-style form or JSON). `simulators._coingate_state` queues callbacks and re-exports
every name here; the notifier in `simulators.coingate` sends them.

Delivery semantics (CoinGate's API-callbacks page): only **200** and **204** count as
delivered; **3xx**, **401** and **403** end the chain for good; anything else (timeouts,
201, 404, 5xx ...) is retried on `retry_delay`'s schedule: 40 retries after the first
attempt, about 6.5 days (our reading of "retry count 1-40", which matches that total).
`delivery_outcome` decides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

__all__ = [
    "CALLBACK_STATUSES",
    "MAX_RETRIES",
    "Attempt",
    "Callback",
    "Outcome",
    "delivery_outcome",
    "encode_callback",
    "retry_delay",
]

CALLBACK_STATUSES = frozenset(
    {"pending", "confirming", "paid", "invalid", "expired", "canceled"}
    | {"refunded", "partially_refunded"}
)
MAX_RETRIES = 40
# (last retry number of the band, seconds before that retry)
_SCHEDULE: tuple[tuple[int, int], ...] = (
    (5, 60),
    (10, 5 * 60),
    (15, 10 * 60),
    (20, 20 * 60),
    (25, 30 * 60),
    (30, 3600),
    (35, 5 * 3600),
    (MAX_RETRIES, 24 * 3600),
)

Outcome = Literal["delivered", "retry", "terminated", "gave_up"]


def retry_delay(attempt: int) -> int | None:
    """Seconds CoinGate waits after failed attempt `attempt` (1-based; the first attempt is
    not a retry, so retry number `attempt` follows it); None after the 40th retry.

    Example:
        >>> retry_delay(1), retry_delay(6), retry_delay(40), retry_delay(41)
        (60, 300, 86400, None)
    """
    if attempt > MAX_RETRIES:
        return None
    return next(delay for last, delay in _SCHEDULE if attempt <= last)


def delivery_outcome(http_status: int | None, attempt: int) -> tuple[Outcome, int | None]:
    """What CoinGate does after attempt `attempt` answered `http_status` (None: no answer).

    Returns:
        The outcome and, for ``retry``, the seconds until the next attempt.
    """
    if http_status in (200, 204):
        return "delivered", None
    # CoinGate names 301, 302, 401 and 403; "URL must be direct" — we end on every 3xx.
    if http_status is not None and (300 <= http_status < 400 or http_status in (401, 403)):
        return "terminated", None
    delay = retry_delay(attempt)
    return ("gave_up", None) if delay is None else ("retry", delay)


def _rails_pairs(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Rails ``to_query`` flattening: ``fees[][currency][symbol]=EUR``; nil becomes blank."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _rails_pairs(f"{prefix}[{k}]", v)]
    if isinstance(value, list):
        return [pair for item in value for pair in _rails_pairs(f"{prefix}[]", item)]
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, "" if value is None else str(value))]


def encode_callback(fields: Mapping[str, Any], fmt: str) -> tuple[bytes, str]:
    """A callback body and its content type, in the API app's format (``form`` or ``json``)."""
    if fmt == "json":
        return json.dumps(dict(fields)).encode("utf-8"), "application/json"
    pairs = [pair for key, value in fields.items() for pair in _rails_pairs(key, value)]
    return urlencode(pairs).encode("ascii"), "application/x-www-form-urlencoded"


@dataclass
class Callback:
    """One queued notification: the order's fields at the status change, and its fate.

    `state` is ``queued`` (waiting or being retried), ``delivered``, ``terminated``
    (3xx/401/403 or a refused URL), ``gave_up`` (40 retries) or ``dropped`` (lost, by a test).
    """

    id: int
    order_id: int
    status: str
    url: str
    fields: dict[str, Any]
    attempts: int = 0
    state: str = "queued"

    def to_dict(self) -> dict[str, Any]:
        """JSON view for `GET /_sim/state` (the token masked)."""
        fields = {**self.fields, "token": "***"}
        return {
            "id": self.id,
            "order_id": self.order_id,
            "status": self.status,
            "url": self.url,
            "attempts": self.attempts,
            "state": self.state,
            "fields": fields,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of a callback and what CoinGate would do next.

    Attributes:
        callback_id: The `Callback`.
        order_id: CoinGate's order id.
        order_status: The status the callback carries.
        attempt: 1-based count of this callback's attempts.
        http_status: Our receiver's answer, or None (timeout, connection error, refused URL).
        error: Why there was no answer, if none.
        outcome: ``delivered``, ``retry``, ``terminated`` or ``gave_up``.
        retry_in: Seconds until CoinGate's next attempt, when `outcome` is ``retry``.
        manual: A dashboard resend (never re-queued).
    """

    callback_id: int
    order_id: int
    order_status: str
    attempt: int
    http_status: int | None
    error: str | None
    outcome: Outcome
    retry_in: int | None
    manual: bool = False

    @property
    def would_retry(self) -> bool:
        """Whether CoinGate would try this callback again."""
        return self.outcome == "retry"
