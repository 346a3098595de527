"""Customers: who orders (an email address, the natural key, and a name).

Orders create their customer on first use (`orders.service`); here operators create and
correct them. Emails are stored lower case, as orders look them up. A customer with orders
cannot be deleted: the orders keep them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import email_validator

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, counted, problem
from fluxbilling.db import schema

__all__ = ["KIND", "CustomerSpec", "check"]


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    """A customer as an operator states them."""

    email: str
    name: str


def check(spec: CustomerSpec) -> list[Problem]:
    """The problems of `spec` (pure; the address is checked for form, not delivered to).

    Example:
        >>> check(CustomerSpec("ann@example", "Ann"))[0]["path"]
        'email'
    """
    problems = rules.name("name", spec.name)
    try:
        email_validator.validate_email(spec.email, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        problems.insert(0, problem("email", str(exc)))
    return problems


def _normalise(spec: CustomerSpec) -> CustomerSpec:
    return replace(spec, email=spec.email.lower())


async def _values(_names: Names, spec: CustomerSpec) -> dict[str, Any]:
    return {"email": spec.email, "name": spec.name}


async def _spec(_names: Names, row: Any) -> CustomerSpec:
    return CustomerSpec(email=row.email, name=row.name)


KIND: Kind[CustomerSpec] = Kind(
    entity="customer",
    table=schema.customers,
    key="email",
    check=check,
    normalise=_normalise,
    to_values=_values,
    to_spec=_spec,
    users=counted((schema.orders.c.customer_id, "order")),
)
"""Customers, for `records`."""
