"""Importing a plugin document from a URL: allowed hosts only, through the address policy, bounded.

`refusal` decides, without any I/O, whether a URL may be fetched at all: import by URL is off
until `FLUXBILLING_PLUGIN_IMPORT_HOSTS` names hosts, and then only `https` URLs of exactly those
hosts (no credentials in the URL) are fetched. `fetch` then sends one `GET` through the upstream
address policy (`drivers.address_guard`) with no network allowance, so a listed name that
resolves to a loopback, private, link-local or metadata address is still refused; redirects are
not followed (they could lead off the list); the answer is read up to `limits.PLUGIN_BYTES` and
must be a JSON object. Nothing is stored: the builder opens the document, and saving it is the
usual validated save.

```
refusal(url, hosts) ─► Forbidden (off / host not listed) | InvalidSettings (not an https URL)
fetch(url, ...)     ─► GuardedTransport ─► 200 JSON object ─► the document
                        │ policy refuses / non-200 / redirect: PermanentUpstreamError (502)
                        └ more than 2 MiB: BodyTooLarge (413); not a JSON object: InvalidFlow (422)
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpx

from fluxbilling import errors, limits
from fluxbilling.drivers.address_guard import GuardedTransport, Resolver
from fluxbilling.drivers.upstream import upstream_call
from fluxbilling.jsontypes import JsonObject

__all__ = ["SETTING", "UPSTREAM", "fetch", "hosts_of", "refusal"]

SETTING = "FLUXBILLING_PLUGIN_IMPORT_HOSTS"
"""The setting that lists the hosts plugin documents may be imported from."""

UPSTREAM = "plugin import"
"""The upstream name in errors and logs."""


def hosts_of(setting: str) -> frozenset[str]:
    """The host names of a comma-separated setting, lower-case, without a trailing dot.

    >>> sorted(hosts_of(" Raw.GitHubusercontent.com., plugins.example.org,"))
    ['plugins.example.org', 'raw.githubusercontent.com']
    """
    return frozenset(h.strip().lower().rstrip(".") for h in setting.split(",") if h.strip())


def refusal(url: str, hosts: Iterable[str]) -> errors.UserError | None:
    """Why `url` may not be fetched, or None when it may.

    Returns:
        `Forbidden` when import by URL is off or the host is not listed; `InvalidSettings`
        when `url` is not an https URL with a host and without credentials.
    """
    allowed = frozenset(hosts)
    if not allowed:
        return errors.Forbidden(f"importing plugins by URL is off: {SETTING} lists no host")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return errors.InvalidSettings(
            "not a URL", problems=[{"path": "url", "message": "not a URL"}]
        )
    problem = None
    if parts.scheme.lower() != "https" or not host:
        problem = "must be an https URL with a host"
    elif parts.username is not None or parts.password is not None:
        problem = "must not carry credentials"
    if problem is not None:
        return errors.InvalidSettings(
            f"url {problem}", problems=[{"path": "url", "message": problem}]
        )
    if host not in allowed:
        return errors.Forbidden(f"host {host!r} is not in {SETTING}", host=host)
    return None


async def fetch(
    url: str,
    *,
    hosts: Iterable[str],
    resolver: Resolver,
    transport_for: Callable[[str], httpx.AsyncBaseTransport | None] = lambda _url: None,
    timeout: float = 10.0,
) -> JsonObject:
    """The plugin document at `url`, fetched under the rules above.

    Args:
        url: where the document is.
        hosts: the allowed host names (`hosts_of` of the setting).
        resolver: turns the host into addresses for the address policy.
        transport_for: the transport that really sends to a URL (None: HTTP; tests serve
            in-process); asked only for a URL that is not refused.
        timeout: seconds for connecting and for each read.

    Raises:
        errors.Forbidden: import by URL is off, or the host is not listed.
        errors.InvalidSettings: `url` is not an https URL.
        errors.PermanentUpstreamError: the policy refuses the host's addresses, or the answer
            is not a 200 (a redirect included).
        errors.TransientUpstreamError: the host cannot be reached now.
        errors.BodyTooLarge: the answer is larger than `limits.PLUGIN_BYTES`.
        errors.InvalidFlow: the answer is not a JSON object.
    """
    refused = refusal(url, hosts)
    if refused is not None:
        raise refused
    transport = GuardedTransport(
        transport_for(url) or httpx.AsyncHTTPTransport(), resolver=resolver, upstream=UPSTREAM
    )
    body = bytearray()
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, trust_env=False, follow_redirects=False
    ) as client:
        with upstream_call(UPSTREAM, "fetch the document"):
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as answer:
                if answer.status_code != 200:
                    raise errors.PermanentUpstreamError(
                        f"{UPSTREAM}: {url} answered HTTP {answer.status_code}"
                        + (" (redirects are not followed)" if answer.is_redirect else ""),
                        upstream=UPSTREAM,
                        operation="fetch the document",
                        status=answer.status_code,
                    )
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    limits.check_size(len(body), limits.PLUGIN_BYTES, "the document")
    return _document(bytes(body))


def _document(raw: bytes) -> JsonObject:
    try:
        parsed = limits.loads_json(raw)
    except ValueError as exc:
        raise errors.InvalidFlow(
            f"the answer is not JSON: {exc}",
            problems=[{"path": "url", "message": "the answer is not JSON"}],
        ) from exc
    if not isinstance(parsed, dict):
        raise errors.InvalidFlow(
            "the answer is not a JSON object",
            problems=[{"path": "url", "message": "the answer is not a JSON object"}],
        )
    return parsed
