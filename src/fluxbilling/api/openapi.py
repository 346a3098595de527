"""The OpenAPI document tells every error answer a route gives, with the one error shape.

Routes declare only what is particular to them (`responses={409: {"description": ...}}`); the
answers that follow from how a route is built are added here, in one place, by rule:

```
401  the route needs a credential (its operation names a security scheme)
403  the route needs more than the viewer role (`x-required-role`), or it changes something
     (a session cookie without the right X-CSRF-Token)
400  the route takes a body (one that is not JSON is refused before validation)
413  the route takes a body (bodies have a size limit; `request_limits` says which)
431  every route: request headers larger than allowed
404  the route has a path parameter (it names something to look up)
422  the route has parameters or a body (FastAPI's rule; our shape, not FastAPI's)
503  every route: the database is unavailable (with `Retry-After`)
```

Every 4xx and 5xx answer without content of its own gets `ErrorOut`
(`{"error": {"code", "message", "details"}}`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from fluxbilling.jsontypes import JsonObject

__all__ = ["DESCRIPTIONS", "ErrorOut", "document_errors"]


class ErrorDetailOut(BaseModel):
    """What went wrong."""

    code: str = Field(description="the kind of error, e.g. NotFound, ValidationError")
    message: str = Field(description="a sentence naming what was wrong")
    details: JsonObject = Field(
        description="more facts, e.g. `problems` ([{path, message}]) or `error_id`"
    )


class ErrorOut(BaseModel):
    """The one error shape of every 4xx and 5xx answer."""

    error: ErrorDetailOut


DESCRIPTIONS = {
    400: "bad input (e.g. a body that is not JSON)",
    401: "missing or invalid credentials (`Authorization: Bearer <token>` or the session cookie)",
    403: "the caller's role does not allow this, or a session cookie came without the right "
    "`X-CSRF-Token` header",
    404: "nothing found by that id or name",
    409: "the request conflicts with the current state",
    410: "it has expired (a token or link); ask for a new one",
    413: "the body is larger than allowed",
    431: "the request headers are larger than allowed",
    429: "too many attempts; try again after `Retry-After` seconds",
    422: "invalid request: `error.details.problems` names each problem (`path`, `message`)",
    502: "an upstream system failed",
    503: "the database is unavailable; try again after `Retry-After` seconds",
}
"""The default description of each error answer."""

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def document_errors(schema: JsonObject) -> None:
    """Add the error answers of every operation and the `ErrorOut` schema to `schema`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorOut"] = error_schema
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            answers = operation.setdefault("responses", {})
            for status in _statuses(method, operation):
                answers.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for status, answer in answers.items():
                if status[0] in "45":
                    if status == "422" or "content" not in answer:
                        answer["content"] = content  # also replaces FastAPI's own 422 shape
                    if answer.get("description") == "Validation Error":  # FastAPI's
                        answer["description"] = DESCRIPTIONS[422]
                    if status in ("429", "503"):
                        answer.setdefault("headers", _RETRY_AFTER)


def _statuses(method: str, operation: JsonObject) -> set[int]:
    """The error answers that follow from how the operation is built (see the module docstring)."""
    statuses = {431, 503}
    if operation.get("security"):
        statuses.add(401)
        if method.upper() not in ("GET", "HEAD", "OPTIONS") or operation.get(
            "x-required-role"
        ) not in (None, "viewer"):
            statuses.add(403)
    if "requestBody" in operation:
        statuses |= {400, 413, 422}
    places = {parameter["in"] for parameter in operation.get("parameters", [])}
    if "path" in places:
        statuses.add(404)
    if places:
        statuses.add(422)
    return statuses
