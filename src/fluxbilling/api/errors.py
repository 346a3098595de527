"""One table mapping our error classes to HTTP responses, and the one JSON error shape.

Every error body is `{"error": {"code", "message", "details"}}`. User errors become 4xx with
their message. Our database being away (`db.is_transient`: refused, reset, restarting, busy;
or its connection pool exhausted) becomes `DatabaseUnavailable`: 503 with `Retry-After`.
Anything else becomes 500 with an error id to find in the logs, never the internals (and
never a secret).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fluxbilling import errors
from fluxbilling.api import fields
from fluxbilling.db import is_transient
from fluxbilling.jsontypes import JsonObject

__all__ = ["STATUS_BY_ERROR", "error_body", "install", "status_of"]

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[errors.FluxError], int], ...] = (
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.TooManyAttempts, 429),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Expired, 410),
    (errors.InvalidWebhook, 400),
    (errors.BodyTooLarge, 413),
    (errors.HeadersTooLarge, 431),
    (errors.InvalidBody, 422),
    (errors.InvalidFlow, 422),
    (errors.InvalidSettings, 422),
    (errors.UserError, 400),
    # Only requests meet it here: a checkout finding no room for its order (nothing is taken).
    (errors.CapacityExhausted, 409),
    (errors.UpstreamError, 502),
    (errors.DatabaseUnavailable, 503),
)


def error_body(code: str, message: str, details: Any = None) -> JsonObject:
    """The JSON error shape."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_of(exc: errors.FluxError) -> int | None:
    """The HTTP status of `exc` by `STATUS_BY_ERROR` (None: an internal error, 500)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return None


def install(app: FastAPI) -> None:
    """Register the exception handlers on `app`."""

    @app.exception_handler(errors.FluxError)
    async def _flux(_request: Request, exc: errors.FluxError) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(sa.exc.DBAPIError)
    async def _database(_request: Request, exc: sa.exc.DBAPIError) -> JSONResponse:
        if not is_transient(exc):
            return _internal(exc)
        return _unavailable(exc)

    @app.exception_handler(sa.exc.TimeoutError)
    async def _pool_exhausted(_request: Request, exc: sa.exc.TimeoutError) -> JSONResponse:
        return _unavailable(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:3])
        return JSONResponse(
            error_body("ValidationError", f"invalid request: {summary}", {"problems": problems}),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body("HTTPError", str(exc.detail)), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _internal(exc)


def _problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One validation problem; a value deep inside a JSON document is located by its full path."""
    path, message = ".".join(str(p) for p in error["loc"]), str(error["msg"])
    if error["type"] == fields.UNSTORABLE:
        path, message = f"{path}.{error['ctx']['path']}", str(error["ctx"]["message"])
    return {"path": path, "message": message}


def _answer(exc: errors.FluxError) -> JSONResponse:
    status = status_of(exc)
    if status is None:
        return _internal(exc)
    headers = None
    if isinstance(exc, errors.DatabaseUnavailable | errors.TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, errors.NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    body = error_body(type(exc).__name__, exc.message, exc.details)
    return JSONResponse(body, status, headers=headers)


def _unavailable(exc: Exception) -> JSONResponse:
    # The type only: a driver's message may carry the statement and its parameters.
    log.warning("database unavailable (%s): answered 503", type(exc).__name__)
    return _answer(errors.DatabaseUnavailable())


def _internal(exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s", error_id, type(exc).__name__, exc_info=exc)
    return JSONResponse(
        error_body(
            "InternalError", f"internal error; reference {error_id}", {"error_id": error_id}
        ),
        500,
    )
