"""What the operator should do about an order's provisioning, from its error and state (pure).

The order page shows one suggestion under the failed (or parked) phase; the console renders
its `action` as the button it names. The table, first match wins:

```
run not failed, not parked                     nothing to do
parked (no capacity, the run waits)            add_capacity: the run goes on by itself
capacity error, run failed                     reallocate (where allowed), else add_capacity
invariant violation                            report_bug: never retried, the run stays stopped
upstream 401 / 403                             check_connection <name>: fix its secrets, retry
transient error, run failed                    retry from the failed phase (attempts exhausted)
permanent upstream error                       fix what the upstream refused, then retry
user error (settings, plugin)                  fix the settings or plugin, then retry
anything else                                  retry from the failed phase
```

A message says what to do, not what went wrong: the page shows the error right above it, so
the error's own text is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fluxbilling.orders.attempts import ErrorClass, NormalizedError
from fluxbilling.orders.pipeline import RunState

__all__ = ["Link", "SuggestedAction", "Suggestion", "suggest"]


class SuggestedAction(StrEnum):
    """The act a suggestion points to (the console's button)."""

    RETRY = "retry"
    REALLOCATE = "reallocate"
    CHECK_CONNECTION = "check_connection"
    ADD_CAPACITY = "add_capacity"
    REPORT_BUG = "report_bug"


@dataclass(frozen=True, slots=True)
class Link:
    """What a suggestion or an alarm points to: a kind of thing and its id or name."""

    kind: str
    """`order`, `connection`, `delivery`, `host`, `run`."""
    id: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggested act, with the sentence that explains it."""

    action: SuggestedAction
    message: str
    from_phase: str | None = None
    """For `retry`: the phase to retry from."""
    link: Link | None = None


_AUTH_STATUSES = (401, 403)


def suggest(
    error: NormalizedError | None,
    *,
    run_state: RunState | None,
    phase: str | None,
    parked: bool,
    reallocatable: bool,
) -> Suggestion | None:
    """The act that most likely fixes the order's provisioning, or None when none is needed.

    Args:
        error: the run's last error, normalized (`attempts.normalize`).
        run_state: the provisioning run's state (None: no run yet).
        phase: the phase the run stands at.
        parked: whether the run waits for capacity.
        reallocatable: whether `lifecycle.reallocation_refusal` allows re-allocation.

    Returns:
        The suggestion, or None.

    Examples:
        >>> error = NormalizedError(ErrorClass.TRANSIENT, "TransientUpstreamError", "timeout")
        >>> found = suggest(error, run_state=RunState.FAILED, phase="provision", parked=False,
        ...                 reallocatable=False)
        >>> found.action, found.from_phase, found.message.endswith("retry from provision")
        (<SuggestedAction.RETRY: 'retry'>, 'provision', True)
    """
    if parked and run_state is RunState.QUEUED:
        return Suggestion(
            SuggestedAction.ADD_CAPACITY,
            f"no capacity for {phase}: add a host or free capacity; the run retries by itself",
        )
    if run_state is not RunState.FAILED or phase is None:
        return None
    if error is None:
        return _retry(phase, f"{phase} failed; retry from {phase}")
    return _failed(error, phase, reallocatable)


def _retry(phase: str, message: str) -> Suggestion:
    return Suggestion(SuggestedAction.RETRY, message, from_phase=phase)


def _failed(error: NormalizedError, phase: str, reallocatable: bool) -> Suggestion:
    # The page shows the error itself just above: a suggestion says what to do about it,
    # never repeats it.
    kind = error.error_class
    if kind is ErrorClass.CAPACITY:
        if reallocatable:
            return Suggestion(
                SuggestedAction.REALLOCATE,
                "no host or address fits this order: add a host or free capacity, or "
                "re-allocate the order to place it again",
            )
        return Suggestion(
            SuggestedAction.ADD_CAPACITY,
            f"no host or address fits this order: add a host or free capacity, then retry "
            f"from {phase}",
        )
    if kind is ErrorClass.INVARIANT:
        return Suggestion(
            SuggestedAction.REPORT_BUG,
            f"an internal error stopped {phase}: report a bug with this order's number (the "
            "server log has the details); the run stays stopped (an internal error is never "
            "retried by itself)",
        )
    if error.status in _AUTH_STATUSES and error.upstream:
        return Suggestion(
            SuggestedAction.CHECK_CONNECTION,
            f"the panel refused our credentials (HTTP {error.status}): fix the secrets of "
            f"connection {error.upstream} (its API token or password), test the connection, "
            f"then retry from {phase}",
            from_phase=phase,
            link=Link("connection", error.upstream),
        )
    where = f"connection {error.upstream}" if error.upstream else "the upstream"
    if kind is ErrorClass.TRANSIENT:
        return _retry(
            phase,
            f"{where} kept failing until {phase} ran out of retries: check that the panel is "
            f"up and reachable (its last answer is below), then retry from {phase}",
        )
    if kind is ErrorClass.PERMANENT:
        status = f" (HTTP {error.status})" if error.status is not None else ""
        advice = "; or re-allocate the order" if reallocatable else ""
        return _retry(
            phase,
            f"the panel of {where} refused the request{status}: correct what its answer "
            f"names (the product's options, the image, or the plugin), then retry from "
            f"{phase}{advice}",
        )
    if kind is ErrorClass.USER:
        return _retry(
            phase,
            f"the product or plugin settings do not fit {phase}: fix what the error names "
            f"(Products or Plugins), then retry from {phase}",
        )
    return _retry(phase, f"{phase} failed: fix what the error names, then retry from {phase}")
