"""One table mapping our error classes to HTTP responses, and the one JSON error shape.

Every error body is `{"error": {"code", "message", "details"}}`. User errors become 4xx with
their message; anything else becomes 500 with an error id to find in the logs, never the
internals (and never a secret).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fluxbilling import errors

__all__ = ["STATUS_BY_ERROR", "error_body", "install", "status_of"]

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[errors.FluxError], int], ...] = (
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidWebhook, 400),
    (errors.BodyTooLarge, 413),
    (errors.HeadersTooLarge, 431),
    (errors.InvalidBody, 422),
    (errors.InvalidFlow, 422),
    (errors.InvalidSettings, 422),
    (errors.UserError, 400),
    (errors.UpstreamError, 502),
)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
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
        status = status_of(exc)
        if status is None:
            return _internal(exc)
        return JSONResponse(error_body(type(exc).__name__, exc.message, exc.details), status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
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


def _internal(exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s: %s", error_id, type(exc).__name__, exc_info=exc)
    return JSONResponse(
        error_body(
            "InternalError", f"internal error; reference {error_id}", {"error_id": error_id}
        ),
        500,
    )
