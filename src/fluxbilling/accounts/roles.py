"""Roles and the principal behind a request.

Roles are ordered: each one may do everything the one below it may.

```
admin     catalogue, connections, plugins, users and tokens, secrets
  └── operator   orders, runs (retry, cancel), service actions, deliveries
        └── viewer     read everything the API shows (secrets never)
```

The installation's API token acts as an admin named `installation-token`: scripts that
used it before accounts existed keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["INSTALLATION_TOKEN", "Principal", "Role"]


class Role(StrEnum):
    """What a principal may do; a higher role includes the lower ones."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for operator, 2 for admin."""
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """Whether this role may do what `other` may.

        >>> Role.ADMIN.includes(Role.OPERATOR), Role.VIEWER.includes(Role.OPERATOR)
        (True, False)
        """
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a user (by session or personal token) or the installation token.

    `name` is what audit rows and activity rows record as the actor.
    """

    name: str
    role: Role
    user_id: int | None = None

    def may(self, role: Role) -> bool:
        """Whether this principal's role includes `role`."""
        return self.role.includes(role)


INSTALLATION_TOKEN = Principal(name="installation-token", role=Role.ADMIN)
