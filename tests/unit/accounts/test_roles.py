from __future__ import annotations

import pytest

from fluxbilling.accounts import Principal, Role
from fluxbilling.accounts.roles import INSTALLATION_TOKEN


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.OPERATOR, True),
        (Role.ADMIN, Role.VIEWER, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.VIEWER, True),
        (Role.VIEWER, Role.ADMIN, False),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.VIEWER, Role.VIEWER, True),
    ],
)
def test_a_role_includes_the_roles_below_it(held: Role, needed: Role, allowed: bool) -> None:
    assert Principal(name="ann", role=held).may(needed) is allowed


def test_the_installation_token_is_an_admin_without_a_user() -> None:
    assert INSTALLATION_TOKEN.role is Role.ADMIN
    assert INSTALLATION_TOKEN.user_id is None
    assert INSTALLATION_TOKEN.name == "installation-token"
