"""The NetBox `DcimSync`: sites, racks, devices, interfaces and IP addresses over its REST API.

Paths are relative to the API root (`https://netbox.example/api/`); a v2 token
authenticates (`Authorization: Bearer nbt_<key>.<secret>`, set by the connection or the
client handed in). Every object is looked up before it is created, by the fields that name
it in NetBox:

| kind       | endpoint               | lookup                          | tracked fields              |
|------------|------------------------|---------------------------------|-----------------------------|
| site       | dcim/sites/            | slug                            | name                        |
| rack       | dcim/racks/            | site_id + name                  | u_height                    |
| device     | dcim/devices/          | site_id + name                  | status, position            |
| interface  | dcim/interfaces/       | device_id + name                | type, description           |
| ip_address | ipam/ip-addresses/     | address (host part)             | dns_name, status, description |

A device needs a role and a type (with its manufacturer): `fluxbilling-host` / `FluxBilling`,
found or created once per client. Choice fields (`status`, `type`) read back as their
`value`, `position` (a decimal, `"12.0"`) as an integer, so the drift decision compares
like with like. Errors come from the HTTP client, the upstream boundary
(`drivers.upstream.UpstreamHttp`): this module never sees the token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from fluxbilling import errors
from fluxbilling.network.cloudflare import JsonHttp
from fluxbilling.network.dcim_drift import Kind, Value
from fluxbilling.network.dcim_sync import RemoteObject, Wanted

__all__ = ["ENDPOINTS", "NetBoxDcim"]

ENDPOINTS: Mapping[Kind, str] = {
    Kind.SITE: "dcim/sites/",
    Kind.RACK: "dcim/racks/",
    Kind.DEVICE: "dcim/devices/",
    Kind.INTERFACE: "dcim/interfaces/",
    Kind.IP_ADDRESS: "ipam/ip-addresses/",
}
"""The endpoint of each kind, relative to the API root."""

_TRACKED: Mapping[Kind, tuple[str, ...]] = {
    Kind.SITE: ("name",),
    Kind.RACK: ("u_height",),
    Kind.DEVICE: ("status", "position"),
    Kind.INTERFACE: ("type", "description"),
    Kind.IP_ADDRESS: ("dns_name", "status", "description"),
}
_REF_FILTER = {"site": "site_id", "device": "device_id"}
_SUPPORT_SLUG = "fluxbilling-host"
_OK = frozenset({200, 201})


def _value(name: str, raw: Any) -> Value:
    """A tracked field as NetBox returns it, normalised for comparison."""
    if isinstance(raw, Mapping):  # choice fields: {"value": "active", "label": "Active"}
        raw = raw.get("value")
    if raw is None:
        return None
    if name in ("position", "u_height"):
        return int(float(raw))
    return raw if isinstance(raw, int) else str(raw)


def _remote(kind: Kind, body: Mapping[str, Any]) -> RemoteObject:
    return RemoteObject(
        id=int(body["id"]), values={name: _value(name, body.get(name)) for name in _TRACKED[kind]}
    )


class NetBoxDcim:
    """`network.dcim_sync.DcimSync` on NetBox 4.x.

    Args:
        http: a client bound to NetBox's API root that authenticates with a token allowed
            to write DCIM and IPAM objects.
        upstream: the name used in errors.
    """

    def __init__(self, http: JsonHttp, *, upstream: str = "netbox") -> None:
        self.http = http
        self.upstream = upstream
        self._support: dict[str, int] = {}

    async def _json(self, method: str, path: str, operation: str, **options: Any) -> Any:
        response = await self.http.request(method, path, operation=operation, **options)
        return response.json()

    async def _list(self, path: str, params: Mapping[str, Any], operation: str) -> list[Any]:
        body = await self._json("GET", path, operation, params={**params, "limit": 2})
        results = body.get("results") if isinstance(body, Mapping) else None
        if not isinstance(results, list):
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: {path} answered no result list",
                upstream=self.upstream,
                operation=operation,
            )
        return results

    def _filters(
        self, kind: Kind, lookup: Mapping[str, Value], refs: Mapping[str, int]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {k: v for k, v in lookup.items() if v is not None}
        if kind == Kind.IP_ADDRESS:
            params["address"] = str(ipaddress.ip_address(str(lookup["address"])))
        # a device is named within its site (its rack may change); the others within parents
        for ref, remote_id in refs.items():
            if ref in _REF_FILTER:
                params[_REF_FILTER[ref]] = remote_id
        return params

    async def find(
        self, kind: Kind, lookup: Mapping[str, Value], refs: Mapping[str, int]
    ) -> RemoteObject | None:
        """Look the object up; None when NetBox has none (more than one: permanent error)."""
        operation = f"find {kind}"
        results = await self._list(ENDPOINTS[kind], self._filters(kind, lookup, refs), operation)
        if not results:
            return None
        if len(results) > 1:
            raise errors.PermanentUpstreamError(
                f"{self.upstream}: more than one {kind} matches {dict(lookup)}: "
                "merge them in NetBox first",
                upstream=self.upstream,
                operation=operation,
            )
        return _remote(kind, results[0])

    async def _ensure(self, path: str, slug: str, body: Mapping[str, Any]) -> int:
        """The id of a support object (manufacturer, role, type) by slug, created if missing."""
        cached = self._support.get(path)
        if cached is not None:
            return cached
        found = await self._list(path, {"slug": slug}, f"find {path}")
        if found:
            remote_id = int(found[0]["id"])
        else:
            created = await self._json(
                "POST", path, f"create {path}", json_body={**body, "slug": slug}, expected=_OK
            )
            remote_id = int(created["id"])
        self._support[path] = remote_id
        return remote_id

    async def _device_support(self) -> dict[str, int]:
        manufacturer = await self._ensure(
            "dcim/manufacturers/", "fluxbilling", {"name": "FluxBilling"}
        )
        role = await self._ensure(
            "dcim/device-roles/", _SUPPORT_SLUG, {"name": "FluxBilling host", "color": "2f6fb0"}
        )
        device_type = await self._ensure(
            "dcim/device-types/",
            _SUPPORT_SLUG,
            {"model": "FluxBilling host", "manufacturer": manufacturer, "u_height": 1},
        )
        return {"role": role, "device_type": device_type}

    async def create(self, wanted: Wanted, refs: Mapping[str, int]) -> RemoteObject:
        """Create the object (with the support objects a device needs)."""
        kind, lookup = wanted.kind, wanted.lookup
        body: dict[str, Any] = {**lookup, **_writable(kind, wanted.values)}
        if kind == Kind.SITE:
            body["status"] = "active"
        elif kind == Kind.RACK:
            body.update(site=refs["site"], status="active")
        elif kind == Kind.DEVICE:
            body.update(await self._device_support(), site=refs["site"])
            if "rack" in refs:
                body["rack"] = refs["rack"]
                if body.get("position") is not None:
                    body["face"] = "front"
        elif kind == Kind.INTERFACE:
            body["device"] = refs["device"]
        else:
            address = ipaddress.ip_address(str(lookup["address"]))
            body["address"] = f"{address}/{address.max_prefixlen}"
            body.update(assigned_object_type="dcim.interface", assigned_object_id=refs["interface"])
        created = await self._json(
            "POST", ENDPOINTS[kind], f"create {kind}", json_body=body, expected=_OK
        )
        return _remote(kind, created)

    async def update(self, kind: Kind, remote_id: int, values: Mapping[str, Value]) -> RemoteObject:
        """Patch only `values`."""
        body = await self._json(
            "PATCH",
            f"{ENDPOINTS[kind]}{int(remote_id)}/",
            f"update {kind}",
            json_body=_writable(kind, values),
            expected=_OK,
        )
        return _remote(kind, body)


def _writable(kind: Kind, values: Mapping[str, Value]) -> dict[str, Value]:
    """`values` as NetBox takes them (a device without a position leaves it unset)."""
    body = dict(values)
    if kind == Kind.DEVICE and body.get("position") is None:
        body.pop("position", None)
    return body
