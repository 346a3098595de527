"""What Stripe accepts in a request: bracket-notation forms, Checkout Session and refund
parameters.

Pure functions over the decoded request, used by `simulators.stripe` (through
`simulators._stripe_state.StripeState`): `decode_form` turns a form body (or a query
string) into nested dicts and lists; `validate_create`, `validate_refund` and
`validate_expand` answer the normalised line items / None, or the first `Problem` (Stripe's
400 with ``param``, message and ``code``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fluxbilling import errors

__all__ = [
    "REFUND_REASONS",
    "Problem",
    "decode_form",
    "validate_create",
    "validate_expand",
    "validate_refund",
]

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_CREATE_PARAMS = frozenset(
    {"mode", "line_items", "success_url", "cancel_url", "client_reference_id", "metadata"}
    | {"payment_intent_data", "payment_method_types", "expand"}
)
_EXPANDABLE = frozenset({"payment_intent", "latest_charge", "charge"})
_REFUND_PARAMS = frozenset({"charge", "payment_intent", "amount", "reason", "metadata", "expand"})
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why Stripe refuses a request: the offending ``param``, the message, the error ``code``
    and the HTTP status (400, or 404 for a ``resource_missing`` id)."""

    param: str
    message: str
    code: str | None = "parameter_invalid"
    status: int = 400


def _missing(param: str) -> Problem:
    return Problem(param, f"Missing required param: {param}.", "parameter_missing")


def _put(tree: dict[str, Any], path: Sequence[str], value: str, key: str) -> None:
    node = tree
    for segment in path[:-1]:
        child = node.setdefault(segment or str(len(node)), {})
        if not isinstance(child, dict):
            raise errors.UserError(f"Invalid hash: {key}")
        node = child
    last = path[-1] or str(len(node))
    if isinstance(node.get(last), dict):
        raise errors.UserError(f"Invalid hash: {key}")
    node[last] = value


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if value and all(k.isdigit() for k in value):
        return [_lists(value[k]) for k in sorted(value, key=int)]
    return {k: _lists(v) for k, v in value.items()}


def decode_form(raw: bytes) -> dict[str, Any]:
    """Stripe's bracket notation back into nested dicts and lists.

    ``line_items[0][quantity]=1`` and ``expand[]=a&expand[]=b`` become lists; the last value
    of a repeated plain key wins.

    Raises:
        errors.UserError: The body is not UTF-8 or a key is malformed / used as a scalar and
            as a hash at once.

    Example:
        >>> decode_form(b"metadata[invoice_id]=7&expand[]=a&line_items[0][quantity]=1")
        {'metadata': {'invoice_id': '7'}, 'expand': ['a'], 'line_items': [{'quantity': '1'}]}
    """
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise errors.UserError("the body is not UTF-8") from exc
    tree: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        if match is None:
            raise errors.UserError(f"Invalid parameter name: {key}")
        path = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        _put(tree, path, value, key)
    result: dict[str, Any] = _lists(tree)
    return result


def _integer(value: object, param: str, minimum: int) -> int | Problem:
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        return Problem(param, f"Invalid integer: {value}", "parameter_invalid_integer")
    if int(value) < minimum:
        return Problem(param, f"This value must be greater than or equal to {minimum}.")
    return int(value)


def _metadata_problem(metadata: object, param: str) -> Problem | None:
    if metadata is None or (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        return None
    return Problem(param, "Invalid hash")


def _line_item(item: object, index: int) -> dict[str, Any] | Problem:
    """One ``line_items[i]`` with ``price_data`` normalised, or what is wrong with it."""
    at = f"line_items[{index}]"
    if not isinstance(item, dict):
        return Problem(at, "Invalid object")
    price = item.get("price_data")
    if not isinstance(price, dict):
        # We model inline prices only; a stored ``price`` would need the Prices API.
        return _missing(f"{at}[price_data]")
    currency = price.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[a-zA-Z]{3}", currency):
        return Problem(f"{at}[price_data][currency]", f"Invalid currency: {currency}.")
    product = price.get("product_data")
    if not isinstance(product, dict) or not product.get("name"):
        return _missing(f"{at}[price_data][product_data][name]")
    if "quantity" not in item:
        return _missing(f"{at}[quantity]")
    unit = _integer(price.get("unit_amount"), f"{at}[price_data][unit_amount]", 0)
    quantity = _integer(item.get("quantity"), f"{at}[quantity]", 1)
    for checked in (unit, quantity):
        if isinstance(checked, Problem):
            return checked
    return {
        "currency": currency.lower(),
        "unit_amount": unit,
        "quantity": quantity,
        "name": product["name"],
    }


def _url_problem(params: Mapping[str, Any], name: str, *, required: bool) -> Problem | None:
    url = params.get(name)
    if url is None:
        return _missing(name) if required else None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return Problem(name, "Not a valid URL", "url_invalid")
    return None


def validate_expand(paths: object) -> Problem | None:
    """Whether every ``expand[]`` path names expandable fields only."""
    if paths is None:
        return None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return Problem("expand", "Invalid array")
    for path in paths:
        for segment in path.split("."):
            if segment not in _EXPANDABLE:
                return Problem("expand", f"This property cannot be expanded ({segment}).")
    return None


def validate_create(params: Mapping[str, Any]) -> list[dict[str, Any]] | Problem:
    """The normalised line items of a valid create, or the first problem (Stripe: 400)."""
    unknown = sorted(set(params) - _CREATE_PARAMS)
    if unknown:
        return Problem(unknown[0], f"Received unknown parameter: {unknown[0]}", None)
    if "mode" not in params:
        return _missing("mode")
    if params["mode"] != "payment":
        return Problem("mode", "The simulator models mode=payment only.")
    problem = (
        _url_problem(params, "success_url", required=True)
        or _url_problem(params, "cancel_url", required=False)
        or _metadata_problem(params.get("metadata"), "metadata")
        or validate_expand(params.get("expand"))
    )
    intent_data = params.get("payment_intent_data", {})
    if problem is None and not isinstance(intent_data, dict):
        problem = Problem("payment_intent_data", "Invalid hash")
    elif problem is None:
        problem = _metadata_problem(intent_data.get("metadata"), "payment_intent_data[metadata]")
    if problem is not None:
        return problem
    raw_items = params.get("line_items")
    if not isinstance(raw_items, list) or not raw_items:
        return _missing("line_items")
    items = [_line_item(item, i) for i, item in enumerate(raw_items)]
    found = next((item for item in items if isinstance(item, Problem)), None)
    if found is not None:
        return found
    checked = [item for item in items if isinstance(item, dict)]
    if len({item["currency"] for item in checked}) > 1:
        return Problem("line_items", "All line items must use the same currency.")
    return checked


def validate_refund(params: Mapping[str, Any]) -> Problem | None:
    """Whether ``POST /v1/refunds`` parameters are well formed (which charge, and whether it
    can be refunded, is `StripeState.create_refund`'s question)."""
    unknown = sorted(set(params) - _REFUND_PARAMS)
    if unknown:
        return Problem(unknown[0], f"Received unknown parameter: {unknown[0]}", None)
    if "charge" not in params and "payment_intent" not in params:
        message = "One of the following params should be provided for this request: "
        return Problem("charge", message + "payment_intent or charge.", "parameter_missing")
    for name in ("charge", "payment_intent"):
        if name in params and not isinstance(params[name], str):
            return Problem(name, "Invalid string")
    if "amount" in params:
        amount = _integer(params["amount"], "amount", 1)
        if isinstance(amount, Problem):
            return amount
    reason = params.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        choices = ", ".join(REFUND_REASONS[:-1]) + f", or {REFUND_REASONS[-1]}"
        return Problem("reason", f"Invalid reason: must be one of {choices}")
    return _metadata_problem(params.get("metadata"), "metadata") or validate_expand(
        params.get("expand")
    )
