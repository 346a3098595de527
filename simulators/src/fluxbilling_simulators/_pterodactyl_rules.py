"""Pterodactyl's error envelope and the Laravel validation it runs on request bodies.

`PanelError` is every refusal of the simulated panel; the HTTP layer renders its `errors` as
`{"errors": [{"code", "status", "detail"[, "meta"]}]}` (the panel's `Handler`: `meta` only on
validation errors, `{"source_field", "rule"}`). `check` is a small Laravel validator: pipe-
separated rule strings over dotted fields (`limits.memory`, `ports.*`), messages from the
panel's `lang/en/validation.php`, rule codes as the panel reports them (`required`, `unique`,
`p_username`, ...). Unlike Laravel it reports only the first failing rule of each field.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from fluxbilling_simulators._pterodactyl_state import PterodactylState

__all__ = ["Call", "Caller", "Handler", "PanelError", "check", "display", "invalid", "not_found"]

Failure = tuple[str, str, str]
DbRule = Callable[[str, str, str, Any], bool]

PORT_RANGE_LIMIT = 1000
TOO_MANY_PORTS = "Adding more than 1000 ports in a single range at once is not supported."
CIDR_OUT_OF_RANGE = "CIDR notation only allows masks between /25 and /32."
PORT_OUT_OF_RANGE = (
    "Ports in an allocation must be greater than 1024 and less than or equal to 65535."
)
NO_FALLBACK_ALLOCATION = (
    "You are attempting to delete the default allocation for this server but there is no "
    "fallback allocation to use."
)
DEFAULT_NOT_ASSIGNED = "The requested default allocation is not currently assigned to this server."
SERVER_IN_USE = (
    "A server is currently assigned to this allocation. An allocation can only be deleted if no "
    "server is currently assigned."
)
LOCATION_HAS_NODES = "Cannot delete a location that has active nodes attached to it."
_IMAGE = r"regex:/^[\w\.\/\-:@ ]*$/"
_LIMIT = "present|nullable|integer|min:0"

USER = {
    "external_id": "sometimes|nullable|string|max:191|unique:users",
    "email": "required|email|between:1,191|unique:users",
    "username": "required|between:1,191|unique:users|p_username",
    "password": "sometimes|nullable|string",
    "language": "string|in:en",
    "root_admin": "boolean",
    "first_name": "required|string|between:1,191",
    "last_name": "required|string|between:1,191",
}
USER_NAMES = {"external_id": "Third Party Identifier", "root_admin": "Root Administrator Status"}
SERVER_CREATE = {
    "external_id": "sometimes|nullable|string|between:1,191|unique:servers",
    "name": "required|string|min:1|max:191",
    "description": "nullable|string",
    "user": "required|integer|exists:users",
    "egg": "required|exists:eggs",
    "docker_image": f"required|string|max:191|{_IMAGE}",
    "startup": "required|string",
    "environment": "present|array",
    "skip_scripts": "sometimes|boolean",
    "oom_disabled": "sometimes|boolean",
    "limits": "required|array",
    "limits.memory": "required|numeric|min:0",
    "limits.swap": "required|numeric|min:-1",
    "limits.disk": "required|numeric|min:0",
    "limits.io": "required|numeric|between:10,1000",
    "limits.threads": "nullable|regex:/^[0-9-,]+$/",
    "limits.cpu": "required|numeric|min:0",
    "feature_limits": "required|array",
    "feature_limits.databases": _LIMIT,
    "feature_limits.allocations": "sometimes|nullable|integer|min:0",
    "feature_limits.backups": _LIMIT,
    "deploy": "sometimes|required|array",
    "deploy.locations": "array",
    "deploy.locations.*": "integer|min:1",
    "deploy.dedicated_ip": "required_with:deploy|boolean",
    "deploy.port_range": "array",
    "deploy.port_range.*": "string",
    "start_on_completion": "sometimes|boolean",
}
SERVER_ALLOCATION = {
    "allocation.default": "required|integer|exists:allocations,free",
    "allocation.additional.*": "integer|exists:allocations,free",
}
SERVER_DETAILS = {
    "external_id": SERVER_CREATE["external_id"],
    "name": SERVER_CREATE["name"],
    "user": SERVER_CREATE["user"],
    "description": "nullable|string",
}
DETAILS_NAMES = {"user": "User ID", "name": "Server Name"}
_BUILD_LIMITS = {
    "memory": "numeric|min:0",
    "swap": "numeric|min:-1",
    "io": "numeric|between:10,1000",
}
_BUILD_LIMITS |= {"cpu": "numeric|min:0", "disk": "numeric|min:0"}
SERVER_BUILD = {
    "allocation": "required|unique:servers|exists:allocations",
    "oom_disabled": "sometimes|boolean",
    "limits": "sometimes|array",
    **{f"limits.{k}": f"required_with:limits|{v}" for k, v in _BUILD_LIMITS.items()},
    "limits.threads": "nullable|regex:/^[0-9-,]+$/",
    **{k: f"required_without:limits|{v}" for k, v in _BUILD_LIMITS.items()},
    "threads": "nullable|regex:/^[0-9-,]+$/",
    "add_allocations": "array",
    "add_allocations.*": "integer",
    "remove_allocations": "array",
    "remove_allocations.*": "integer",
    "feature_limits": "required|array",
    "feature_limits.databases": _LIMIT,
    "feature_limits.allocations": "sometimes|nullable|integer|min:0",
    "feature_limits.backups": _LIMIT,
}
BUILD_NAMES = {
    "add_allocations": "allocations to add",
    "remove_allocations": "allocations to remove",
    "feature_limits.databases": "Database Limit",
    "feature_limits.allocations": "Allocation Limit",
    "feature_limits.backups": "Backup Limit",
}
SERVER_STARTUP = {
    "startup": "required|string",
    "environment": "present|array",
    "egg": "required|exists:eggs",
    "image": f"required|string|max:191|{_IMAGE}",
    "skip_scripts": "present|boolean",
}
ALLOCATION_CREATE = {
    "ip": "required|string",
    "alias": "sometimes|nullable|string|max:191",
    "ports": "required|array",
    "ports.*": "string",
}
LOCATION = {
    "short": "required|string|between:1,60|unique:locations",
    "long": "string|nullable|between:1,191",
}
DEPLOYABLE = {
    "memory": "required|integer|min:0",
    "disk": "required|integer|min:0",
    "location_ids": "array",
    "location_ids.*": "integer",
}

_MESSAGES = {
    "required": "The {a} field is required.",
    "present": "The {a} field must be present.",
    "required_with": "The {a} field is required when {v} is present.",
    "required_without": "The {a} field is required when {v} is not present.",
    "unique": "The {a} has already been taken.",
    "exists": "The selected {a} is invalid.",
    "in": "The selected {a} is invalid.",
    "integer": "The {a} must be an integer.",
    "numeric": "The {a} must be a number.",
    "string": "The {a} must be a string.",
    "boolean": "The {a} field must be true or false.",
    "array": "The {a} must be an array.",
    "email": "The {a} must be a valid email address.",
    "regex": "The {a} format is invalid.",
    "p_username": "The {a} must start and end with alpha-numeric characters and\n"
    "                contain only letters, numbers, dashes, underscores, and periods.",
}
_SIZED = {
    "min": {"numeric": "must be at least {v}.", "string": "must be at least {v} characters."},
    "max": {
        "numeric": "may not be greater than {v}.",
        "string": "may not be greater than {v} characters.",
    },
    "between": {"numeric": "must be between {v}.", "string": "must be between {v} characters."},
}
_SIZED["min"]["array"] = "must have at least {v} items."
_SIZED["max"]["array"] = "may not have more than {v} items."
_SIZED["between"]["array"] = "must have between {v} items."
_IMPLICIT = {"required", "present", "required_with", "required_without"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME = re.compile(r"^[a-z0-9]([\w\.-]+)[a-z0-9]$")
_MISSING = object()


class PanelError(Exception):
    """A refusal of the panel: an HTTP status and its `errors` envelope entries."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.errors = errors or [{"code": code, "status": str(status), "detail": detail}]
        self.headers = headers or {}


@dataclass(frozen=True)
class Caller:
    """Who calls: the key's kind (`application` or `client`), its user and the key's ACL."""

    kind: str
    user: dict[str, Any]
    permissions: dict[str, int]

    def can(self, resource: str, write: bool = False) -> bool:
        """`AdminAcl::check`; account (client) keys of root admins may do everything."""
        if self.kind == "client":
            return bool(self.user["root_admin"])
        return bool(self.permissions.get(resource, 0) & (2 if write else 1))

    def require(self, resource: str, write: bool = False) -> None:
        """Raise the FormRequest's 403 when the key may not read (or write) `resource`."""
        if not self.can(resource, write):
            raise PanelError(403, "AccessDeniedHttpException", "This action is unauthorized.")


@dataclass(frozen=True)
class Call:
    """One authenticated API request, as every handler receives it."""

    request: Request
    state: PterodactylState
    caller: Caller
    body: dict[str, Any]

    def param(self, name: str = "id") -> Any:
        """A path parameter (`{id:int}` ones arrive as int)."""
        return self.request.path_params[name]


Handler = Callable[[Call], Awaitable[Response]]


def not_found(
    detail: str = "The requested resource could not be found on the server.",
) -> PanelError:
    """A 404 `NotFoundHttpException` (the panel's wording for a missing model)."""
    return PanelError(404, "NotFoundHttpException", detail)


def display(detail: str, code: str = "DisplayException") -> PanelError:
    """A 400 `DisplayException` (or one of its subclasses, named by `code`)."""
    return PanelError(400, code, detail)


def unavailable() -> PanelError:
    """The 503 of a panel that is down (Laravel's maintenance `HttpException`)."""
    return PanelError(503, "HttpException", "Service Unavailable")


def daemon_unreachable() -> PanelError:
    """The 504 `DaemonConnectionException` of a Wings call that got no response."""
    detail = (
        "Could not establish a connection to the machine running this server. Please try again."
    )
    return PanelError(504, "DaemonConnectionException", detail)


def invalid(failures: list[Failure]) -> PanelError:
    """A 422 `ValidationException` with one entry per failed field."""
    errors = [
        {"code": "ValidationException", "status": "422", "detail": detail}
        | {"meta": {"source_field": source, "rule": rule}}
        for source, rule, detail in failures
    ]
    return PanelError(422, "ValidationException", failures[0][2], errors=errors)


def as_int(value: Any) -> int:
    """The integer a validated numeric field holds (`"21"` and `21.0` included)."""
    return int(float(value)) if not isinstance(value, int) else value


def int_or_none(value: Any) -> int | None:
    """`value` as an integer when it is one (`5`, `"5"`, `5.0`), else None."""
    return as_int(value) if _is_int(value) else None


def php_string(value: Any) -> str:
    """How the panel stores a variable value (a varchar; null becomes '')."""
    if value is None or value is False:
        return ""
    return "1" if value is True else str(value)


def expand_ports(spec: Any) -> list[int]:
    """One `ports` entry of an allocation create ("25565" or "25570-25580") as ports."""
    text = str(spec)
    match = re.match(r"^(\d{4,5})-(\d{4,5})$", text)
    if not text.isdigit() and match is None:
        raise display(f"The mapping provided for {text} was invalid and could not be processed.")
    low, high = (int(match[1]), int(match[2])) if match else (int(text), int(text))
    if high - low + 1 > PORT_RANGE_LIMIT:
        raise display(TOO_MANY_PORTS, "TooManyPortsInRangeException")
    if low <= 1024 or high > 65535:
        raise display(PORT_OUT_OF_RANGE, "PortOutOfRangeException")
    return list(range(low, high + 1))


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def _expand(data: Any, pattern: str) -> list[str]:
    if ".*" not in pattern:
        return [pattern]
    head, _, tail = pattern.partition(".*")
    parent = _lookup(data, head)
    if not isinstance(parent, list):
        return []
    return [f for i in range(len(parent)) for f in _expand(data, f"{head}.{i}{tail}")]


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) or (
        isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
    )


def _is_numeric(value: Any) -> bool:
    if isinstance(value, str):
        return re.fullmatch(r"\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value) is not None
    return isinstance(value, int | float) and not isinstance(value, bool)


def _size(value: Any, kind: str) -> float:
    if kind == "numeric":
        return float(value) if _is_numeric(value) else float(len(str(value)))
    return float(len(value)) if isinstance(value, list | dict | str) else float(len(str(value)))


def _regex(arg: str, value: Any) -> bool:
    match = re.fullmatch(r"/(.*)/([a-z]*)", arg, re.DOTALL)
    pattern, flags = (match[1], match[2]) if match else (arg, "")
    flag = re.IGNORECASE if "i" in flags else 0
    return isinstance(value, str | int | float) and re.search(pattern, str(value), flag) is not None


def _passes(rule: str, arg: str, value: Any, data: Any, kind: str) -> bool:
    filled = value is not _MISSING and value not in (None, "", [], {})
    if rule == "required":
        return filled
    if rule == "present":
        return value is not _MISSING
    if rule in ("required_with", "required_without"):
        other = _lookup(data, arg) not in (_MISSING, None, "", [], {})
        return filled or other != (rule == "required_with")
    checks: dict[str, Callable[[], bool]] = {
        "integer": lambda: _is_int(value),
        "numeric": lambda: _is_numeric(value),
        "string": lambda: isinstance(value, str),
        "boolean": lambda: value in (True, False, 0, 1, "0", "1"),
        "array": lambda: isinstance(value, list | dict),
        "email": lambda: isinstance(value, str) and _EMAIL.match(value) is not None,
        "regex": lambda: _regex(arg, value),
        "in": lambda: php_string(value) in arg.split(","),
        "p_username": lambda: _USERNAME.match(str(value).lower()) is not None,
    }
    if rule in checks:
        return checks[rule]()
    bounds = [float(x) for x in arg.split(",")]
    size = _size(value, kind)
    low, high = {"min": (bounds[0], None), "max": (None, bounds[0])}.get(
        rule, (bounds[0], bounds[-1])
    )
    return (low is None or size >= low) and (high is None or size <= high)


def _message(rule: str, arg: str, attribute: str, kind: str, names: dict[str, str]) -> str:
    if rule in _SIZED:
        values = arg.replace(",", " and ")
        return f"The {attribute} " + _SIZED[rule][kind].format(v=values)
    other = names.get(arg, arg.replace("_", " "))
    return _MESSAGES[rule].format(a=attribute, v=other)


def _check_field(
    data: Any, field: str, spec: str, names: dict[str, str], db: DbRule
) -> Failure | None:
    value = _lookup(data, field)
    tokens = [t.partition(":") for t in spec.split("|") if t]
    flags = {rule for rule, _, _ in tokens}
    if "sometimes" in flags and value is _MISSING:
        return None
    kind = "numeric" if flags & {"numeric", "integer"} else "string"
    kind = "array" if "array" in flags or isinstance(value, list | dict) else kind
    attribute = names.get(field, field.replace("_", " "))
    for rule, _, arg in tokens:
        if rule in ("sometimes", "nullable", "bail"):
            continue
        skip = value is _MISSING or (value is None and "nullable" in flags)
        if skip and rule not in _IMPLICIT:
            continue
        database = rule in ("exists", "unique")
        ok = db(rule, arg, field, value) if database else _passes(rule, arg, value, data, kind)
        if not ok:
            return field, rule, _message(rule, arg, attribute, kind, names)
    return None


def check(data: Any, table: dict[str, str], names: dict[str, str], db: DbRule) -> list[Failure]:
    """Validate `data` against `table` (field pattern -> Laravel rule string).

    Args:
        data: the request body (already trimmed, empty strings as None).
        table: rules per dotted field; `*` matches each list index.
        names: display names replacing the field in messages (the request's `attributes()`).
        db: answers the `exists:table[,free]` and `unique:table[,column]` rules.

    Returns:
        `(source_field, rule, message)` for each failing field, in table order.
    """
    failures = []
    for pattern, spec in table.items():
        for field in _expand(data, pattern):
            failure = _check_field(data, field, spec, names, db)
            if failure is not None:
                failures.append(failure)
    return failures
