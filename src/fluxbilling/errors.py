"""The error taxonomy: every error our code raises is one of these classes.

```
FluxError                      base; message defaults to the class docstring; .details (dict)
├── UserError                       input or configuration is wrong; API 4xx; never retried
│   ├── InvalidSettings             driver/flow settings fail validation
│   ├── InvalidFlow                 schema, unknown node type, bad graph
│   ├── InvalidWebhook              a delivery that fails verification or parsing
│   ├── InvalidBody                 a body refused before parsing: not UTF-8, nested too deep (a ValueError)
│   │   └── BodyTooLarge            larger than its route allows
│   ├── HeadersTooLarge             request headers larger than allowed
│   ├── NotAuthenticated            no valid credential came with the request (API 401)
│   ├── Forbidden                   the caller's role does not allow it, or CSRF failed (API 403)
│   ├── TooManyAttempts             login rate limit reached; .retry_after (API 429)
│   ├── NotFound                    API-level lookup found nothing
│   ├── Expired                     a token or link past its expiry
│   └── Conflict                    the request conflicts with the current state
│       └── IllegalTransition       a lifecycle table has no row for (state, event)
├── UpstreamError                   a system we call failed; .upstream, .operation, .status, .retry_after
│   ├── TransientUpstreamError      will probably succeed later unchanged  -> retry with backoff
│   └── PermanentUpstreamError      will fail again unchanged              -> phase failed, operator
├── CapacityExhausted               no host / address / image available    -> order waits, alert
├── DatabaseUnavailable             our own database is unreachable         -> API 503, Retry-After
└── InvariantViolation              our bug                                 -> never retried
```

Foreign exceptions are mapped into this tree at one boundary (`drivers.upstream`) with
`raise ... from exc`, so `__cause__` survives.
"""

from __future__ import annotations

from typing import Any

from fluxbilling.jsontypes import JsonObject

__all__ = [
    "BodyTooLarge",
    "CapacityExhausted",
    "Conflict",
    "DatabaseUnavailable",
    "Expired",
    "FluxError",
    "Forbidden",
    "HeadersTooLarge",
    "IllegalTransition",
    "InvalidBody",
    "InvalidFlow",
    "InvalidSettings",
    "InvalidWebhook",
    "InvariantViolation",
    "NotAuthenticated",
    "NotFound",
    "PermanentUpstreamError",
    "TooManyAttempts",
    "TransientUpstreamError",
    "UpstreamError",
    "UserError",
]


class FluxError(Exception):
    """Something went wrong in FluxBilling."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (type(self).__doc__ or type(self).__name__).strip()
        self.details: JsonObject = details
        super().__init__(self.message)

    def to_dict(self) -> JsonObject:
        """A JSON-safe description (the API's error body and the runs' last_error)."""
        return {"code": type(self).__name__, "message": self.message, "details": self.details}


class UserError(FluxError):
    """The input or the configuration is wrong."""


class InvalidSettings(UserError):
    """Driver or flow settings fail validation."""


class InvalidFlow(UserError):
    """The visual plugin is invalid."""


class InvalidWebhook(UserError):
    """The webhook delivery failed verification."""


class InvalidBody(UserError, ValueError):
    """The body cannot be accepted."""


class BodyTooLarge(InvalidBody):
    """The body is too large."""


class HeadersTooLarge(UserError):
    """The request headers are too large."""


class NotAuthenticated(UserError):
    """Missing or invalid credentials."""


class Forbidden(UserError):
    """The caller may not do this."""


class TooManyAttempts(UserError):
    """Too many attempts; try again later."""

    def __init__(self, message: str | None = None, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class NotFound(UserError, LookupError):
    """Nothing was found."""


class Expired(UserError):
    """It has expired; ask for a new one."""


class Conflict(UserError):
    """The request conflicts with the current state."""


class IllegalTransition(Conflict):
    """The lifecycle does not allow this event in the current state."""


class UpstreamError(FluxError):
    """A system we call failed."""

    def __init__(
        self,
        message: str | None = None,
        *,
        upstream: str = "",
        operation: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.upstream = upstream
        self.operation = operation
        self.status = status
        self.retry_after = retry_after

    def to_dict(self) -> JsonObject:
        data = super().to_dict()
        data.update(
            upstream=self.upstream,
            operation=self.operation,
            status=self.status,
            retry_after=self.retry_after,
        )
        return data


class TransientUpstreamError(UpstreamError):
    """The upstream failed in a way that will probably succeed later unchanged."""


class PermanentUpstreamError(UpstreamError):
    """The upstream refused the request; it will fail again unchanged."""


class CapacityExhausted(FluxError):
    """No capacity is available (host, address or image)."""


class DatabaseUnavailable(FluxError):
    """The database is unavailable for the moment; try again shortly."""

    def __init__(self, message: str | None = None, *, retry_after: int = 5, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class InvariantViolation(FluxError):
    """An internal invariant was violated (a bug in FluxBilling)."""
