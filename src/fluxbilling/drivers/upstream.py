"""The one boundary where failures of systems we call become our error taxonomy.

`upstream_call(...)` maps foreign exceptions (httpx, OS errors) and `classify_response(...)`
maps HTTP statuses; both are used by the flow engine's `http` node and by native drivers.
`UpstreamHttp` is the HTTP client every driver uses: it only reaches its connection's base
URL (through `address_guard.GuardedTransport` for connections: the address policy), never
lets a caller set `Host` or framing headers, records the last request/response (redacted)
for the operator console, and classifies every failure here.

| Signal                                              | Class     |
|-----------------------------------------------------|-----------|
| timeouts, connection refused/reset, DNS failure     | transient |
| 408, 425, 429 (Retry-After honoured), 500, 502-504  | transient |
| other 4xx, TLS verification failure                 | permanent |
| anything else raised inside the block               | invariant |
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from fluxbilling import errors, limits
from fluxbilling.jsontypes import JsonObject
from fluxbilling.redaction import Redactor

__all__ = [
    "RESERVED_HEADERS",
    "TRANSIENT_STATUSES",
    "Credential",
    "Exchange",
    "ExchangeRecorder",
    "UpstreamHttp",
    "classify_response",
    "json_object",
    "parse_retry_after",
    "upstream_call",
]

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    }
)
"""Headers the client owns: where a request goes (`Host`) and how it is framed. A driver or
a flow may not set them (a `Host` override would reach another virtual host than the one
checked)."""
_BODY_LIMIT = 4096
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_retry_after(value: str | None, *, now_epoch: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date).

    Examples:
        >>> parse_retry_after("7")
        7.0
        >>> parse_retry_after(None) is None
        True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now_epoch is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)


def classify_response(
    upstream: str, operation: str, status: int, body: str, retry_after: float | None = None
) -> errors.UpstreamError:
    """The taxonomy error for a failed HTTP response."""
    snippet = body[:500]
    cls: type[errors.UpstreamError] = (
        errors.TransientUpstreamError
        if status in TRANSIENT_STATUSES
        else errors.PermanentUpstreamError
    )
    return cls(
        f"{upstream}: {operation} failed with HTTP {status}: {snippet}".strip(),
        upstream=upstream,
        operation=operation,
        status=status,
        retry_after=retry_after,
    )


@contextmanager
def upstream_call(upstream: str, operation: str) -> Iterator[None]:
    """Map foreign exceptions raised in the block to the taxonomy, chaining the cause.

    Taxonomy errors pass through unchanged. Anything unclassified is our bug.
    """
    try:
        yield
    except errors.FluxError:
        raise
    except httpx.TimeoutException as exc:
        raise errors.TransientUpstreamError(
            f"{upstream}: {operation} timed out", upstream=upstream, operation=operation
        ) from exc
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise errors.PermanentUpstreamError(
                f"{upstream}: {operation}: TLS verification failed",
                upstream=upstream,
                operation=operation,
            ) from exc
        raise errors.TransientUpstreamError(
            f"{upstream}: {operation}: cannot connect ({type(exc).__name__})",
            upstream=upstream,
            operation=operation,
        ) from exc
    except (httpx.TransportError, ConnectionError, OSError) as exc:
        raise errors.TransientUpstreamError(
            f"{upstream}: {operation}: transport error ({type(exc).__name__})",
            upstream=upstream,
            operation=operation,
        ) from exc
    except Exception as exc:
        raise errors.InvariantViolation(
            f"{upstream}: {operation}: unexpected {type(exc).__name__}: {exc}",
            upstream=upstream,
            operation=operation,
        ) from exc


@dataclass(slots=True)
class Exchange:
    """One request/response pair, already redacted."""

    upstream: str
    operation: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    error: str | None = None

    def to_dict(self) -> JsonObject:
        """JSON form, stored as a run's `last_upstream`."""
        return {
            "upstream": self.upstream,
            "operation": self.operation,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body,
            },
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Credential:
    """How one credential authenticates: headers and/or query parameters (values secret)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


def _form(body: Mapping[str, Any]) -> dict[str, str]:
    """Form fields as text: booleans as 1/0, None dropped, other values via `str`."""
    fields: dict[str, str] = {}
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[key] = "1" if value else "0"
        elif isinstance(value, dict | list):
            fields[key] = json.dumps(value, separators=(",", ":"))
        else:
            fields[key] = str(value)
    return fields


class ExchangeRecorder:
    """Keeps the exchanges of one attempt: the last one for `runs.last_upstream`, and the
    latest `keep` of them for the attempt's activity row (the operator's order page).

    Args:
        keep: how many of the latest exchanges are kept (older ones are dropped, counted).
    """

    def __init__(self, keep: int = 5) -> None:
        self.last: Exchange | None = None
        self._kept: deque[Exchange] = deque(maxlen=keep)
        self.dropped = 0

    def record(self, exchange: Exchange) -> None:
        """Remember `exchange` as the latest one."""
        if self._kept.maxlen is not None and len(self._kept) == self._kept.maxlen:
            self.dropped += 1
        self.last = exchange
        self._kept.append(exchange)

    @property
    def exchanges(self) -> list[JsonObject]:
        """The kept exchanges, oldest first, as JSON (already redacted)."""
        return [e.to_dict() for e in self._kept]


def _decode(content: bytes) -> Any:
    text = content[:_BODY_LIMIT].decode("utf-8", errors="replace")
    try:
        return limits.loads_json(content) if len(content) <= _BODY_LIMIT else text
    except ValueError:
        return text


class UpstreamHttp:
    """An HTTP client bound to one connection's base URL, with redaction and classification.

    Args:
        upstream: name used in errors and activity rows (the connection name).
        base_url: the only origin and path prefix this client may reach.
        headers: default headers (authentication lives here).
        secrets: values to redact wherever they appear.
        transport: optional httpx transport (an ASGI app or a MockTransport in tests).
        timeout: seconds per request.
        recorder: where the last exchange is kept.
        credentials: authentication per credential name: `None` is the default one, others
            are chosen per request (`credential=`), e.g. a panel's second, user-level key.
        trust_env: whether proxies and `.netrc` from the environment apply (connections
            turn this off: their address policy must see where requests really go).
    """

    def __init__(
        self,
        upstream: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: list[str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        recorder: ExchangeRecorder | None = None,
        credentials: Mapping[str | None, Credential] | None = None,
        trust_env: bool = True,
    ) -> None:
        self.upstream = upstream
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._base = urlsplit(self.base_url)
        self.redactor = Redactor(secrets or [])
        self.recorder = recorder or ExchangeRecorder()
        self._credentials = dict(credentials or {})
        self._client = httpx.AsyncClient(
            headers=dict(headers or {}), transport=transport, timeout=timeout, trust_env=trust_env
        )

    def resolve(self, path: str) -> str:
        """The absolute URL for `path`, refused unless it stays under the base URL."""
        url = urljoin(self.base_url, path.lstrip("/"))
        parts = urlsplit(url)
        same_origin = (parts.scheme, parts.netloc) == (self._base.scheme, self._base.netloc)
        normalised = "/" + "/".join(p for p in parts.path.split("/") if p not in ("", "."))
        if (
            not same_origin
            or ".." in parts.path.split("/")
            or not (normalised + "/").startswith(self._base.path)
        ):
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: path {path!r} leaves the connection's base URL",
                upstream=self.upstream,
                operation="resolve url",
            )
        return url

    def _check_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse reserved header names and names or values that would break the framing."""
        for name, value in headers.items():
            if name.lower() in RESERVED_HEADERS:
                raise errors.InvalidSettings(
                    f"{self.upstream}: header {name!r} is set by the client, never by a "
                    "driver or flow",
                    upstream=self.upstream,
                    header=name,
                )
            if not _TOKEN.match(name) or any(c in value for c in "\r\n\0"):
                raise errors.InvalidSettings(
                    f"{self.upstream}: header {name!r} has an invalid name or a line break "
                    "in its value",
                    upstream=self.upstream,
                    header=self.redactor.text(name),
                )

    def _auth(self, credential: str | None) -> Credential:
        found = self._credentials.get(credential)
        if found is None and credential is not None:
            raise errors.InvalidSettings(
                f"{self.upstream}: the connection has no credential {credential!r}",
                upstream=self.upstream,
                credential=credential,
            )
        return found or Credential()

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json_body: Any = None,
        form_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: frozenset[int] | None = None,
        credential: str | None = None,
    ) -> httpx.Response:
        """Send one request; raise a taxonomy error unless the status is expected (2xx).

        Args:
            method: the HTTP method.
            path: relative to the base URL (which it may not leave).
            operation: named in errors and in the exchange record.
            json_body: a JSON body, or
            form_body: a form (`application/x-www-form-urlencoded`) body.
            params: query parameters (the credential's own are added).
            headers: extra headers (the credential's own are added).
            expected: statuses that are not failures (default: 2xx).
            credential: which of the connection's credentials authenticates (default one).

        Returns:
            The response.

        Raises:
            errors.TransientUpstreamError: timeouts, connection errors, 408/425/429/5xx.
            errors.PermanentUpstreamError: other unexpected statuses, a path outside the base,
            an address the upstream address policy refuses.
        errors.InvalidSettings: a reserved header (`Host`, framing) or a broken header.
        """
        url = self.resolve(path)
        auth = self._auth(credential)
        self._check_headers(headers or {})
        query = {**dict(params or {}), **auth.params}
        all_headers = {**dict(headers or {}), **auth.headers}
        sent_body = json_body if form_body is None else dict(form_body)
        exchange = Exchange(
            upstream=self.upstream,
            operation=operation,
            method=method.upper(),
            url=self.redactor.text(str(httpx.URL(url, params=query))),
            request_headers=self.redactor.headers({**dict(self._client.headers), **all_headers}),
            request_body=self.redactor.value(sent_body),
        )
        self.recorder.record(exchange)
        with upstream_call(self.upstream, operation):
            try:
                response = await self._client.request(
                    method,
                    url,
                    json=json_body if form_body is None else None,
                    data=None if form_body is None else _form(form_body),
                    params=query or None,
                    headers=all_headers,
                )
            except httpx.HTTPError as exc:
                exchange.error = type(exc).__name__
                raise
            except errors.UpstreamError as exc:  # refused before connecting (address policy)
                exchange.error = exc.message
                raise
        exchange.status = response.status_code
        exchange.response_headers = self.redactor.headers(dict(response.headers))
        exchange.response_body = self.redactor.value(_decode(response.content))
        ok = (
            response.status_code in expected
            if expected is not None
            else 200 <= response.status_code < 300
        )
        if not ok:
            raise classify_response(
                self.upstream,
                operation,
                response.status_code,
                self.redactor.text(response.text),
                parse_retry_after(response.headers.get("retry-after")),
            )
        return response

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()


def json_object(upstream: str, operation: str, response: httpx.Response) -> JsonObject:
    """The answer's body as a JSON object, for APIs that always answer one.

    Raises:
        errors.PermanentUpstreamError: the body is not JSON, or not an object.
    """
    try:
        data = limits.loads_json(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise errors.PermanentUpstreamError(
            f"{upstream}: {operation} answered {response.status_code} without a JSON object",
            upstream=upstream,
            operation=operation,
            status=response.status_code,
        )
    return data
