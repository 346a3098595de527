"""Every attempt of every phase of a run, read back from the run's activity rows (pure).

The engine writes one activity row where an attempt of a phase ends, in the transaction of
that end, with the attempt's number, when it started and ended (one clock), its error (the taxonomy's
`{code, message, details}`) and its upstream exchanges, already redacted:

```
phase_completed   the attempt succeeded             → completed
phase_waiting     it started something slow          → waiting  (only when its note changes:
                  (Pending); later checks come back              the checks between write none)
phase_retry       it failed, a retry is scheduled   → retrying
phase_parked      no capacity: the run waits        → parked   (only when the reason changes)
phase_failed      it failed, the run stopped        → failed
```

`collect` turns those rows into `Attempt`s, oldest first, per phase; `normalize` turns an
error document into the `NormalizedError` the order page shows. Rows written before the
engine recorded starts and exchanges have neither: their attempts have no start, duration
or exchanges, never invented ones; rows without a recorded end end at the row's own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fluxbilling.jsontypes import JsonValue

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "ErrorClass",
    "Exchange",
    "ExchangeRequest",
    "ExchangeResponse",
    "NormalizedError",
    "Recorded",
    "collect",
    "normalize",
]


class AttemptOutcome(StrEnum):
    """How one attempt of a phase ended."""

    COMPLETED = "completed"
    WAITING = "waiting"
    RETRYING = "retrying"
    PARKED = "parked"
    FAILED = "failed"


class ErrorClass(StrEnum):
    """The taxonomy's branch of an error (`errors.py`): what kind of failure it is."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CAPACITY = "capacity"
    INVARIANT = "invariant"
    USER = "user"
    UNKNOWN = "unknown"


_OUTCOMES = {
    "phase_completed": AttemptOutcome.COMPLETED,
    "phase_waiting": AttemptOutcome.WAITING,
    "phase_retry": AttemptOutcome.RETRYING,
    "phase_parked": AttemptOutcome.PARKED,
    "phase_failed": AttemptOutcome.FAILED,
}

_CLASSES = {
    "TransientUpstreamError": ErrorClass.TRANSIENT,
    "PermanentUpstreamError": ErrorClass.PERMANENT,
    "UpstreamError": ErrorClass.PERMANENT,
    "CapacityExhausted": ErrorClass.CAPACITY,
    "InvariantViolation": ErrorClass.INVARIANT,
    "InvalidSettings": ErrorClass.USER,
    "InvalidFlow": ErrorClass.USER,
    "UserError": ErrorClass.USER,
    "NotFound": ErrorClass.USER,
    "Conflict": ErrorClass.USER,
}


@dataclass(frozen=True, slots=True)
class NormalizedError:
    """An error as the operator reads it: its class, code, message and upstream facts."""

    error_class: ErrorClass
    code: str
    message: str
    upstream: str | None = None
    operation: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """The request of an upstream exchange."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: JsonValue


@dataclass(frozen=True, slots=True)
class ExchangeResponse:
    """The response of an upstream exchange (no status: no answer came)."""

    status: int | None
    headers: Mapping[str, str]
    body: JsonValue


@dataclass(frozen=True, slots=True)
class Exchange:
    """One upstream request and its response, as recorded (redacted before it was stored)."""

    upstream: str
    operation: str
    request: ExchangeRequest
    response: ExchangeResponse
    error: str | None
    omitted: bool = False
    """Headers and bodies were not kept (an attempt that went on: its answers may carry
    credentials); only failed attempts keep them."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """The part of an activity row `collect` reads."""

    id: int
    at: datetime
    event: str
    run_id: int | None
    phase: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of one phase of one run."""

    run_id: int
    number: int
    outcome: AttemptOutcome
    started_at: datetime | None
    finished_at: datetime
    error: NormalizedError | None
    exchanges: tuple[Exchange, ...]

    @property
    def duration_seconds(self) -> float | None:
        """How long it ran; None when it is not known: its start was not recorded, or (older
        rows, whose end is the row's own time, second-precise on SQLite) it seems to have
        ended before it started.
        """
        if self.started_at is None:
            return None
        seconds = (self.finished_at - self.started_at).total_seconds()
        return seconds if seconds >= 0 else None


def normalize(document: Any) -> NormalizedError | None:
    """The `NormalizedError` of an error document (`FluxError.to_dict()`); None if not one.

    Examples:
        >>> normalize({"code": "TransientUpstreamError", "message": "503", "details": {},
        ...            "upstream": "acme", "operation": "create", "status": 503})
        NormalizedError(error_class=<ErrorClass.TRANSIENT: 'transient'>, \
code='TransientUpstreamError', message='503', upstream='acme', operation='create', status=503)
        >>> normalize(None) is None
        True
    """
    if not isinstance(document, Mapping):
        return None
    code = document.get("code")
    if not isinstance(code, str) or not code:
        return None
    status = document.get("status")
    return NormalizedError(
        error_class=_CLASSES.get(code, ErrorClass.UNKNOWN),
        code=code,
        message=str(document.get("message") or ""),
        upstream=_text(document.get("upstream")),
        operation=_text(document.get("operation")),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _started(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _exchange(value: Any) -> Exchange | None:
    """One stored exchange (`drivers.upstream.Exchange.to_dict()`), or None if malformed."""
    if not isinstance(value, Mapping):
        return None
    request = value.get("request")
    response = value.get("response")
    request = request if isinstance(request, Mapping) else {}
    response = response if isinstance(response, Mapping) else {}
    status = response.get("status")
    return Exchange(
        upstream=str(value.get("upstream") or ""),
        operation=str(value.get("operation") or ""),
        request=ExchangeRequest(
            method=str(request.get("method") or ""),
            url=str(request.get("url") or ""),
            headers=_headers(request.get("headers")),
            body=request.get("body"),
        ),
        response=ExchangeResponse(
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            headers=_headers(response.get("headers")),
            body=response.get("body"),
        ),
        error=_text(value.get("error")),
        omitted=value.get("omitted") is True,
    )


def _exchanges(value: Any) -> tuple[Exchange, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(found for e in value if (found := _exchange(e)) is not None)


def collect(rows: Iterable[Recorded]) -> dict[str, tuple[Attempt, ...]]:
    """Every ended attempt in `rows`, oldest first, by phase.

    Args:
        rows: activity rows of one order, in any order (sorted here by id).

    Returns:
        Phase name → its attempts (across runs and operator retries), oldest first.
    """
    found: dict[str, list[Attempt]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        outcome = _OUTCOMES.get(row.event)
        if outcome is None or row.phase is None or row.run_id is None:
            continue
        attempts = found.setdefault(row.phase, [])
        number = row.data.get("attempt")
        if not isinstance(number, int) or isinstance(number, bool):
            number = sum(1 for a in attempts if a.run_id == row.run_id) + 1
        attempts.append(
            Attempt(
                run_id=row.run_id,
                number=number,
                outcome=outcome,
                started_at=_started(row.data.get("started_at")),
                finished_at=_started(row.data.get("finished_at")) or row.at,
                error=normalize(row.data.get("error")),
                exchanges=_exchanges(row.data.get("exchanges")),
            )
        )
    return {phase: tuple(attempts) for phase, attempts in found.items()}
