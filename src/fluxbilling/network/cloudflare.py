"""The Cloudflare `RdnsBackend`: PTR records in reverse zones hosted on Cloudflare (API v4).

The address's PTR owner name (`10.2.0.192.in-addr.arpa`) lives in the longest reverse zone
of the account that contains it (`2.0.192.in-addr.arpa`, or a `/16` zone; for IPv6 any
nibble zone of `ip6.arpa`), found with one `GET /zones?name=ends_with:<in-addr.arpa|ip6.arpa>`
listing. Cloudflare has no idempotency key for DNS records, so `set_ptr` is an upsert by
lookup: list the PTR records of the name; none -> create (a create refused with 81057/81058,
"already exists", means a lost answer or a concurrent writer: list again); one or more ->
keep one (the one already right, else the first), patch it when its content or TTL differ,
and delete the others. A repeat therefore writes nothing. `delete_ptr` deletes every PTR of
the name; a record already gone (404) is fine.

Every call goes through the HTTP client it is given, which is the upstream boundary's
`drivers.upstream.UpstreamHttp` (address policy, redaction of the token, the error
taxonomy): this module never sees the API token. `JsonHttp` names the one method used, so
this layer does not import the drivers (they are siblings in the layers contract).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from fluxbilling import errors
from fluxbilling.network import ipam

__all__ = ["API_URL", "CloudflareRdns", "JsonHttp"]

API_URL = "https://api.cloudflare.com/client/v4/"
ALREADY_EXISTS = frozenset({81057, 81058})
_ZONE_PAGE = 50
_RECORD_PAGE = 100


class JsonHttp(Protocol):
    """The part of `drivers.upstream.UpstreamHttp` this backend uses."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        expected: frozenset[int] | None = None,
    ) -> httpx.Response:
        """Send one request; raise the taxonomy's error unless the status is expected."""
        ...


class CloudflareRdns:
    """PTR records on Cloudflare.

    Args:
        http: a client bound to `API_URL` (or a simulator's `/client/v4/`) that authenticates
            with the API token (`Authorization: Bearer ...`; Zone:Read and DNS:Edit).
        upstream: the name used in errors.
    """

    def __init__(self, http: JsonHttp, *, upstream: str = "cloudflare") -> None:
        self.http = http
        self.upstream = upstream

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Point the PTR of `address` at `hostname` (idempotent; see the module docstring).

        Returns:
            `(zone, record name)`, both fully qualified with a trailing dot.

        Raises:
            errors.InvariantViolation: `address` is not an IP address.
            errors.PermanentUpstreamError: no reverse zone of the account contains the
                address, or Cloudflare refused the record.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        ip = _address(address)
        name = ipam.ptr_name(ip).rstrip(".")
        content = hostname.strip().rstrip(".").lower()
        zone = await self._zone_for(name)
        records = await self._ptrs(zone["id"], name)
        if not records:
            created = await self._create(zone["id"], name, content, ttl)
            if created is not None:
                return zone["name"] + ".", name + "."
            records = await self._ptrs(zone["id"], name)
            if not records:
                raise errors.TransientUpstreamError(
                    f"{self.upstream}: create PTR record: Cloudflare said {name} already "
                    "exists, but lists none",
                    upstream=self.upstream,
                    operation="create PTR record",
                )
        keep = next((r for r in records if _same(r.get("content"), content)), records[0])
        if not _same(keep.get("content"), content) or keep.get("ttl") != ttl:
            await self._call(
                "PATCH",
                f"zones/{zone['id']}/dns_records/{keep['id']}",
                "update PTR record",
                json_body={"type": "PTR", "name": name, "content": content, "ttl": ttl},
            )
        for extra in records:
            if extra is not keep:
                await self._delete(zone["id"], extra["id"])
        return zone["name"] + ".", name + "."

    async def delete_ptr(self, address: str) -> None:
        """Remove the PTR of `address` (idempotent: nothing to remove is fine).

        Raises:
            errors.InvariantViolation: `address` is not an IP address.
            errors.PermanentUpstreamError: no reverse zone of the account contains it.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        name = ipam.ptr_name(_address(address)).rstrip(".")
        zone = await self._zone_for(name)
        for record in await self._ptrs(zone["id"], name):
            await self._delete(zone["id"], record["id"])

    async def _zone_for(self, name: str) -> dict[str, Any]:
        root = "ip6.arpa" if name.endswith(".ip6.arpa") else "in-addr.arpa"
        zones = await self._list("zones", "find reverse zone", {"name": f"ends_with:{root}"})
        containing = [
            z
            for z in zones
            if isinstance(z.get("name"), str)
            and isinstance(z.get("id"), str)
            and (name == z["name"] or name.endswith("." + z["name"]))
        ]
        if not containing:
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: no zone of the account contains {name} (add the reverse "
                f"zone to Cloudflare, or use another rDNS backend)",
                upstream=self.upstream,
                operation="find reverse zone",
                ptr=name,
            )
        return max(containing, key=lambda z: len(z["name"]))

    async def _ptrs(self, zone_id: str, name: str) -> list[dict[str, Any]]:
        records = await self._list(
            f"zones/{zone_id}/dns_records",
            "list PTR records",
            {"type": "PTR", "name": name},
            per_page=_RECORD_PAGE,
        )
        return [r for r in records if r.get("name") == name and isinstance(r.get("id"), str)]

    async def _create(
        self, zone_id: str, name: str, content: str, ttl: int
    ) -> dict[str, Any] | None:
        """Create the PTR; None when Cloudflare says it already exists."""
        operation = "create PTR record"
        response = await self.http.request(
            "POST",
            f"zones/{zone_id}/dns_records",
            operation=operation,
            json_body={"type": "PTR", "name": name, "content": content, "ttl": ttl},
            expected=frozenset({200, 201, 400}),
        )
        body = self._envelope(response, operation)
        if response.status_code == 400:
            if {e.get("code") for e in _errors(body)} & ALREADY_EXISTS:
                return None
            raise self._refused(operation, response.status_code, body)
        return self._object(body, operation)

    async def _delete(self, zone_id: str, record_id: str) -> None:
        await self.http.request(
            "DELETE",
            f"zones/{zone_id}/dns_records/{record_id}",
            operation="delete PTR record",
            expected=frozenset({200, 404}),
        )

    async def _call(
        self, method: str, path: str, operation: str, *, json_body: Any = None
    ) -> dict[str, Any]:
        response = await self.http.request(method, path, operation=operation, json_body=json_body)
        return self._object(self._envelope(response, operation), operation)

    async def _list(
        self, path: str, operation: str, params: Mapping[str, str], *, per_page: int = _ZONE_PAGE
    ) -> list[dict[str, Any]]:
        """Every item of a paged list (`result_info.total_pages`, or until a short page)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.http.request(
                "GET",
                path,
                operation=operation,
                params={**params, "page": page, "per_page": per_page},
            )
            body = self._envelope(response, operation)
            result = body.get("result")
            if not isinstance(result, list):
                raise self._refused(operation, response.status_code, body)
            items.extend(r for r in result if isinstance(r, dict))
            info = body.get("result_info")
            pages = info.get("total_pages") if isinstance(info, dict) else None
            last = page >= pages if isinstance(pages, int) else len(result) < per_page
            if last or not result or page >= 1000:
                return items
            page += 1

    def _envelope(self, response: httpx.Response, operation: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: {operation}: the answer is not Cloudflare's JSON envelope",
                upstream=self.upstream,
                operation=operation,
                status=response.status_code,
            )
        if not body["success"] and 200 <= response.status_code < 300:
            raise self._refused(operation, response.status_code, body)
        return body

    def _object(self, body: dict[str, Any], operation: str) -> dict[str, Any]:
        result = body.get("result")
        if not isinstance(result, dict):
            raise self._refused(operation, 200, body)
        return result

    def _refused(self, operation: str, status: int, body: dict[str, Any]) -> errors.UpstreamError:
        said = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in _errors(body))
        return errors.PermanentUpstreamError(
            f"{self.upstream}: {operation} refused ({said or 'no result'})",
            upstream=self.upstream,
            operation=operation,
            status=status,
        )


def _address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        raise errors.InvariantViolation(f"not an IP address: {address!r}") from None


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = body.get("errors")
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _same(stored: Any, wanted: str) -> bool:
    return isinstance(stored, str) and stored.rstrip(".").lower() == wanted
