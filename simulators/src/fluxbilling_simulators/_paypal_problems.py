"""How the simulated PayPal refuses a request: `PayPalProblem` and its common shapes.

Rules of `simulators._paypal_state` raise `PayPalProblem`; the HTTP layer in
`simulators.paypal` renders it in PayPal's error shape (``name``, ``message``,
``details[].issue``, ``debug_id``). `invalid` (400), `not_found` (404) and `unprocessable`
(422) build the shapes PayPal answers most.
"""

from __future__ import annotations

__all__ = ["PayPalProblem", "invalid", "not_found", "unprocessable"]

_UNPROCESSABLE = (
    "The requested action could not be performed, semantically incorrect, or failed business "
    "validation."
)


class PayPalProblem(Exception):
    """A request PayPal refuses: rendered as ``{"name", "message", "details", "debug_id"}``."""

    def __init__(self, status: int, name: str, message: str, issue: str, description: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.details = [{"issue": issue, "description": description}]


def unprocessable(issue: str, description: str) -> PayPalProblem:
    """A 422 ``UNPROCESSABLE_ENTITY`` with `issue` (a business rule refused the request)."""
    return PayPalProblem(422, "UNPROCESSABLE_ENTITY", _UNPROCESSABLE, issue, description)


def invalid(issue: str, description: str) -> PayPalProblem:
    """A 400 ``INVALID_REQUEST`` with `issue` (the request is malformed)."""
    message = "Request is not well-formed, syntactically incorrect, or violates schema."
    return PayPalProblem(400, "INVALID_REQUEST", message, issue, description)


def not_found() -> PayPalProblem:
    """A 404 ``RESOURCE_NOT_FOUND`` (an unknown order, capture or refund id)."""
    return PayPalProblem(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist. Please check the resource ID and try again.",
    )
