"""The Cloudflare `RdnsBackend`: PTR and A/AAAA records in zones hosted on Cloudflare (API v4).

The address's PTR owner name (`10.2.0.192.in-addr.arpa`) lives in the longest reverse zone
of the account that contains it (`2.0.192.in-addr.arpa`, or a `/16` zone; for IPv6 any
nibble zone of `ip6.arpa`), found with one `GET /zones?name=ends_with:<in-addr.arpa|ip6.arpa>`
listing. Cloudflare has no idempotency key for DNS records, so `set_ptr` is an upsert by
lookup: list the PTR records of the name; none -> create (a create refused with 81057/81058,
"already exists", means a lost answer or a concurrent writer: list again); one or more ->
keep one (the one already right, else the first), patch it when its content or TTL differ,
and delete the others. A repeat therefore writes nothing. `delete_ptr` deletes every PTR of
the name; a record already gone (404) is fine. The host's A/AAAA record is upserted the same
way in the forward zone (`set_forward`, `delete_forward`). `confirm` asks the authoritative
server it is configured with (`FLUXBILLING_RDNS_NAMESERVER`): the API says which name servers
Cloudflare uses, but this installation may not reach them; the simulator has no DNS listener,
and its tests answer its zones with our DNS server over its state (`cloudflare_dns` there).

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
from fluxbilling.network import fcrdns, ipam, rdns

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
        forward_zone: the account's zone for the hosts' A/AAAA records (None: each host's
            parent domain, which must be a zone of the account).
        nameserver: `(host, port)` of a server authoritative for the zones, which `confirm`
            asks (Cloudflare's own are on the public internet; the simulator has none).
    """

    def __init__(
        self,
        http: JsonHttp,
        *,
        upstream: str = "cloudflare",
        forward_zone: str | None = None,
        nameserver: tuple[str, int] | None = None,
    ) -> None:
        self.http = http
        self.upstream = upstream
        self.forward_zone = forward_zone
        self.nameserver = nameserver

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
        zone = await self._zone_for(name, "ip6.arpa" if ip.version == 6 else "in-addr.arpa")
        await self._upsert(zone["id"], "PTR", name, content, ttl)
        return zone["name"] + ".", name + "."

    async def delete_ptr(self, address: str) -> None:
        """Remove the PTR of `address` (idempotent: nothing to remove is fine).

        Raises:
            errors.InvariantViolation: `address` is not an IP address.
            errors.PermanentUpstreamError: no reverse zone of the account contains it.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        ip = _address(address)
        name = ipam.ptr_name(ip).rstrip(".")
        zone = await self._zone_for(name, "ip6.arpa" if ip.version == 6 else "in-addr.arpa")
        for record in await self._records(zone["id"], "PTR", name):
            await self._delete(zone["id"], record["id"])

    async def set_forward(self, hostname: str, address: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Make `address` the host's A/AAAA record in the forward zone (an upsert like
        `set_ptr`: one record per family and host, others of that type deleted).

        Raises:
            errors.PermanentUpstreamError: the host is outside the forward zone, no zone of
                the account holds it, or Cloudflare refused the record.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        rtype = rdns.forward_type(address)
        zone, name = await self._forward_zone(hostname)
        await self._upsert(zone["id"], rtype, name, str(_address(address)), ttl)
        return zone["name"] + ".", name + "."

    async def delete_forward(self, hostname: str, address: str) -> None:
        """Delete the host's A/AAAA records holding `address` (idempotent)."""
        rtype = rdns.forward_type(address)
        zone, name = await self._forward_zone(hostname)
        wanted = str(_address(address))
        for record in await self._records(zone["id"], rtype, name):
            if _same(record.get("content"), wanted):
                await self._delete(zone["id"], record["id"])

    async def confirm(self, address: str, hostname: str) -> fcrdns.Verdict:
        """Ask the configured authoritative server (Cloudflare's API tells none we can reach).

        Raises:
            errors.InvalidSettings: no server is configured (`FLUXBILLING_RDNS_NAMESERVER`).
        """
        if self.nameserver is None:
            raise errors.InvalidSettings(
                "the Cloudflare rDNS backend needs FLUXBILLING_RDNS_NAMESERVER (host:port of a "
                "server authoritative for its zones) to confirm a PTR",
                upstream=self.upstream,
            )
        host, port = self.nameserver
        return await fcrdns.check(address, hostname, server=host, port=port)

    async def _forward_zone(self, hostname: str) -> tuple[dict[str, Any], str]:
        name = hostname.strip().rstrip(".").lower()
        wanted = rdns.forward_zone_for(name, self.forward_zone).rstrip(".")
        zone = await self._zone_for(wanted, wanted.rsplit(".", 1)[-1])
        if zone["name"] != wanted:
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: the forward zone {wanted} is not a zone of the account",
                upstream=self.upstream,
                operation="find forward zone",
            )
        return zone, name

    async def _upsert(self, zone_id: str, rtype: str, name: str, content: str, ttl: int) -> None:
        """Create or correct the one `rtype` record of `name`; delete any others."""
        records = await self._records(zone_id, rtype, name)
        if not records:
            created = await self._create(zone_id, rtype, name, content, ttl)
            if created is not None:
                return
            records = await self._records(zone_id, rtype, name)
            if not records:
                raise errors.TransientUpstreamError(
                    f"{self.upstream}: create {rtype} record: Cloudflare said {name} already "
                    "exists, but lists none",
                    upstream=self.upstream,
                    operation=f"create {rtype} record",
                )
        keep = next((r for r in records if _same(r.get("content"), content)), records[0])
        if not _same(keep.get("content"), content) or keep.get("ttl") != ttl:
            await self._call(
                "PATCH",
                f"zones/{zone_id}/dns_records/{keep['id']}",
                f"update {rtype} record",
                json_body={"type": rtype, "name": name, "content": content, "ttl": ttl},
            )
        for extra in records:
            if extra is not keep:
                await self._delete(zone_id, extra["id"])

    async def _zone_for(self, name: str, root: str) -> dict[str, Any]:
        zones = await self._list("zones", "find zone", {"name": f"ends_with:{root}"})
        containing = [
            z
            for z in zones
            if isinstance(z.get("name"), str)
            and isinstance(z.get("id"), str)
            and (name == z["name"] or name.endswith("." + z["name"]))
        ]
        if not containing:
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: no zone of the account contains {name} (add the "
                f"zone to Cloudflare, or use another rDNS backend)",
                upstream=self.upstream,
                operation="find zone",
                record=name,
            )
        return max(containing, key=lambda z: len(z["name"]))

    async def _records(self, zone_id: str, rtype: str, name: str) -> list[dict[str, Any]]:
        records = await self._list(
            f"zones/{zone_id}/dns_records",
            f"list {rtype} records",
            {"type": rtype, "name": name},
            per_page=_RECORD_PAGE,
        )
        return [
            r
            for r in records
            if r.get("name") == name
            and r.get("type", rtype) == rtype
            and isinstance(r.get("id"), str)
        ]

    async def _create(
        self, zone_id: str, rtype: str, name: str, content: str, ttl: int
    ) -> dict[str, Any] | None:
        """Create the record; None when Cloudflare says it already exists."""
        operation = f"create {rtype} record"
        response = await self.http.request(
            "POST",
            f"zones/{zone_id}/dns_records",
            operation=operation,
            json_body={"type": rtype, "name": name, "content": content, "ttl": ttl},
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
            operation="delete record",
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
