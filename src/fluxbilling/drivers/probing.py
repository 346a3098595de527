"""A connection test's answer, read as a verdict and cut to what an operator needs to see.

The test action is a verdict, not a proxy: it says whether the vendor accepted the
credentials (`verdict`, by the connection type's `Probe`, or a `CustomProbe` such as a
plugin's `test` flow), and shows the vendor's answer only as its status, content type and a
short snippet (`trimmed`), so it cannot be used to read what some URL serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from fluxbilling import limits
from fluxbilling.drivers.connection_types import Probe
from fluxbilling.jsontypes import JsonObject

if TYPE_CHECKING:
    from fluxbilling.drivers.upstream import UpstreamHttp

__all__ = ["SNIPPET", "CustomProbe", "snippet", "trimmed", "verdict"]


class CustomProbe(Protocol):
    """A probe that is more than one GET: it sends what it needs through the client it gets.

    The connection test still owns the client (so the upstream address policy, redaction and
    the trimmed exchange are as for the type's probe); `plugins.probe.FlowProbe` runs a
    plugin's `test` flow this way.
    """

    @property
    def label(self) -> str:
        """What was probed, for the answer (e.g. `plugin acmepanel@2, flow 'test'`)."""
        ...

    async def __call__(self, client: UpstreamHttp) -> tuple[bool, str]:
        """Probe through `client`: whether the vendor accepted us, and a one-line message.

        Raises:
            errors.UpstreamError: a request failed (the test reports it as a verdict).
        """
        ...


SNIPPET = 200
"""The most characters of a vendor's answer the test action shows."""


def snippet(value: Any) -> str:
    """At most `SNIPPET` characters of text (JSON for other values), on one line.

    Example:
        >>> snippet({"message": "Unauthenticated."})
        '{"message":"Unauthenticated."}'
    """
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def trimmed(exchange: JsonObject) -> JsonObject:
    """A recorded (already redacted) exchange with its response cut to a verdict's worth.

    Args:
        exchange: `Exchange.to_dict()` of the probe request (changed in place).

    Returns:
        The exchange, its response holding only `status`, the `content-type` header and a
        `snippet` of the body.
    """
    response = exchange["response"]
    body = response["body"]
    content_type = {
        k: v for k, v in (response["headers"] or {}).items() if k.lower() == "content-type"
    }
    exchange["response"] = {
        "status": response["status"],
        "headers": content_type,
        "body": None if body is None else snippet(body),
    }
    return exchange


_ABSENT = object()


def _at(body: Any, path: str) -> Any:
    for segment in path.split("."):
        if not isinstance(body, Mapping) or segment not in body:
            return _ABSENT
        body = body[segment]
    return body


def verdict(probe: Probe, response: httpx.Response) -> tuple[bool, str]:
    """Whether the probe's answer means the vendor accepted us, and a one-line message.

    Args:
        probe: the connection type's probe (where its answer says ok or error).
        response: the vendor's answer (any status the client let through: 2xx).

    Returns:
        `(ok, message)`; the message may quote the vendor's own reason (redact it).
    """
    try:
        body = limits.loads_json(response.content)
    except ValueError:  # not JSON, not UTF-8 or nested too deep
        body = None
    if probe.ok_path is not None:
        value = _at(body, probe.ok_path)
        if value not in probe.ok_values:
            reason = _at(body, probe.error_path) if probe.error_path else _ABSENT
            shown = value if reason is _ABSENT else reason
            return False, f"the vendor refused: {shown if shown is not _ABSENT else 'no answer'}"
    elif probe.error_path is not None:
        error = _at(body, probe.error_path)
        if error not in (_ABSENT, None, "", [], {}):
            return False, f"the vendor answered an error: {json.dumps(error)}"
    return True, f"HTTP {response.status_code}"
