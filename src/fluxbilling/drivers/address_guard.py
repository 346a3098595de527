"""Connecting only to checked addresses: the resolver port and the guarding httpx transport.

`GuardedTransport` wraps the transport a connection's client sends through. For each host it
resolves the name once (through a `Resolver`), asks `address_policy.check` which address may
be reached, and sends every request to that address: the URL's host becomes the checked IP,
while the `Host` header keeps the name and TLS keeps it for SNI and certificate verification
(httpcore's `sni_hostname` extension). A DNS answer that changes between check and connect
(rebinding) therefore changes nothing.

```
UpstreamHttp ─► GuardedTransport ─► Resolver (once per host) ─► address_policy.check
                      │ refused: PermanentUpstreamError naming the policy (never retried)
                      └► inner transport, URL host = checked address, Host/SNI = the name
```
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from ipaddress import ip_address
from typing import Protocol, runtime_checkable

import anyio
import httpx

from fluxbilling import errors
from fluxbilling.drivers import address_policy
from fluxbilling.drivers.address_policy import IPAddress, IPNetwork

__all__ = ["GuardedTransport", "Resolver", "StaticResolver", "SystemResolver"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@runtime_checkable
class Resolver(Protocol):
    """Turns a host name into the addresses to try, in order of preference."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of `host`.

        Args:
            host: a DNS name (address literals never reach a resolver).
            port: the port that will be connected to (some resolvers care).

        Returns:
            The addresses, most preferred first; empty when the name has none.

        Raises:
            OSError: the name cannot be resolved now.
        """
        ...


class SystemResolver:
    """The operating system's resolver (`getaddrinfo`), off the event loop."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses `getaddrinfo` gives for a TCP connection to `host:port`."""
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found: list[IPAddress] = []
        for *_, sockaddr in infos:
            address = ip_address(sockaddr[0])
            if address not in found:
                found.append(address)
        return found


class StaticResolver:
    """A resolver answering from a fixed table (tests, and hosts pinned by configuration).

    Args:
        table: addresses by host name (one address or several).

    Example:
        >>> StaticResolver({"panel.test": "127.0.0.1"}).table["panel.test"]
        [IPv4Address('127.0.0.1')]
    """

    def __init__(self, table: Mapping[str, str | Sequence[str]]) -> None:
        self.table: dict[str, list[IPAddress]] = {
            name.lower(): [ip_address(a) for a in ([value] if isinstance(value, str) else value)]
            for name, value in table.items()
        }
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The table's addresses for `host`; an unknown name fails like NXDOMAIN."""
        self.asked.append(host)
        try:
            return list(self.table[host.lower().rstrip(".")])
        except KeyError:
            raise OSError(f"{host}: name not known") from None


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that reaches only addresses the policy allows, pinned per host.

    Args:
        inner: the transport that really sends (the default HTTP one, or an in-process app).
        resolver: turns names into addresses (asked once per host and port).
        allowed: the connection's `allowed_networks`.
        upstream: the connection's name, for errors.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        resolver: Resolver,
        allowed: Sequence[IPNetwork] = (),
        upstream: str,
    ) -> None:
        self._inner = inner
        self._resolver = resolver
        self._allowed = tuple(allowed)
        self._upstream = upstream
        self._pinned: dict[tuple[str, int], IPAddress] = {}

    async def pin(self, host: str, port: int) -> IPAddress:
        """The checked address for `host:port`, resolved on first use and then kept.

        Raises:
            errors.PermanentUpstreamError: the policy refuses every address of the host.
            errors.TransientUpstreamError: the name cannot be resolved now.
        """
        key = (host.lower(), port)
        if key in self._pinned:
            return self._pinned[key]
        verdict = address_policy.static_verdict(host, self._allowed)
        if verdict is None:
            try:
                addresses = await self._resolver.resolve(host, port)
            except OSError as exc:
                raise errors.TransientUpstreamError(
                    f"{self._upstream}: cannot resolve {host} ({exc})",
                    upstream=self._upstream,
                    operation="resolve host",
                ) from exc
            verdict = address_policy.check(addresses, self._allowed)
        if verdict.address is None:
            raise errors.PermanentUpstreamError(
                f"{self._upstream}: {host} refused by the upstream address policy: "
                f"{verdict.reason}",
                upstream=self._upstream,
                operation="connect",
                host=host,
                kind=verdict.kind,
                policy="upstream address policy",
            )
        self._pinned[key] = verdict.address
        return verdict.address

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` to the checked address of its host, keeping the name for Host/TLS."""
        url = request.url
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        address = await self.pin(url.host, port)
        extensions = dict(request.extensions)
        if url.scheme == "https" and address_policy.literal(url.host) is None:
            extensions["sni_hostname"] = url.host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=request.headers,  # already holds `Host: <name>` from the original URL
            stream=request.stream,
            extensions=extensions,
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
