"""API token authentication: `Authorization: Bearer <token>`, compared in constant time.

The dependency is FastAPI's HTTP bearer security scheme, so the OpenAPI document names the
routes that need the token (`security`), and a client generated from it sends the token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["require_token"]

_bearer = HTTPBearer(auto_error=False, description="the installation's API token")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """FastAPI dependency: 401 unless the request carries the installation's API token."""
    expected: str = request.app.state.installation.api_token
    token = credentials.credentials if credentials is not None else ""
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
