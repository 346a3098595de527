"""API token authentication: `Authorization: Bearer <token>`, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

__all__ = ["require_token"]


def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries the installation's API token."""
    expected: str = request.app.state.installation.api_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
