"""Who is calling, and may they: authentication and role checks for every `/api/v1` route.

Today one credential is known: the installation's API token (`Authorization: Bearer
<token>`, compared in constant time), which acts as an admin (`accounts.INSTALLATION_TOKEN`).
Routes never check credentials themselves: they declare the role they need with one of the
annotated parameters below and receive the `Principal`, whose name is the actor of the audit
and activity rows they write.

```python
@router.post("/locations")
async def create_location(body: LocationIn, who: Admin) -> LocationOut: ...
```

The dependency is FastAPI's HTTP bearer security scheme, so the OpenAPI document names the
routes that need a credential (`security`), and a client generated from it sends it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fluxbilling.accounts import roles
from fluxbilling.accounts.roles import Principal, Role

__all__ = ["Admin", "Operator", "Viewer", "authenticate", "require_token", "requires"]

_bearer = HTTPBearer(auto_error=False, description="the installation's API token")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller's principal, or 401 when no valid credential came."""
    expected: str = request.app.state.installation.api_token
    token = credentials.credentials if credentials is not None else ""
    if token and hmac.compare_digest(token.encode(), expected.encode()):
        return roles.INSTALLATION_TOKEN
    raise HTTPException(
        status_code=401,
        detail="missing or invalid API token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def requires(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that passes the principal on when its role includes `role`, else 403."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(role):
            raise HTTPException(status_code=403, detail=f"this needs the {role} role")
        return principal

    check.__name__ = f"requires_{role}"
    return check


_viewer = requires(Role.VIEWER)
_operator = requires(Role.OPERATOR)
_admin = requires(Role.ADMIN)

Viewer = Annotated[Principal, Depends(_viewer)]
"""Any signed-in principal: reads."""
Operator = Annotated[Principal, Depends(_operator)]
"""Operators and admins: orders, runs, service actions, deliveries."""
Admin = Annotated[Principal, Depends(_admin)]
"""Admins only: catalogue, connections, plugins, users and tokens."""

require_token = _viewer
"""Router-level dependency: any valid credential (routes narrow it with Operator/Admin)."""
