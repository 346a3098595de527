"""The simulated Cloudflare account: zones, their DNS records, the rules that change them.

Plain data plus the rules; the HTTP layer is `fluxbilling_simulators.cloudflare`. Used from
one asyncio loop: no method awaits, so each request's read-modify-write is atomic. A rule
that refuses raises `CloudflareError` (HTTP status, Cloudflare error code, message), which the
HTTP layer renders in Cloudflare's envelope.
"""

from __future__ import annotations

import ipaddress
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fluxbilling_simulators._faults import Faults

__all__ = ["RECORD_TYPES", "CloudflareError", "CloudflareState"]

RECORD_TYPES = frozenset(
    {
        "A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR",
        "NS", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI",
    }
)  # fmt: skip
PROXIABLE = frozenset({"A", "AAAA", "CNAME"})
HOSTNAME_CONTENT = frozenset({"CNAME", "NS", "PTR", "MX"})
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_ID = re.compile(r"^[0-9a-f]{32}$")


class CloudflareError(Exception):
    """A refusal as Cloudflare answers it: HTTP status, error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def is_identifier(value: str) -> bool:
    """Whether `value` has the shape of a Cloudflare identifier (32 lower-case hex digits)."""
    return bool(_ID.match(value))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hostname_ok(name: str) -> bool:
    labels = name.split(".")
    return (len(name) <= 253 and all(_LABEL.match(label) for label in labels)) or name == "*"


def _content(kind: str, given: Any) -> str:
    """A record's content, checked for its type and normalised as Cloudflare stores it."""
    if not isinstance(given, str) or not given.strip():
        raise CloudflareError(400, 9005, "Content is required.")
    content = given.strip()
    if kind in ("A", "AAAA"):
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(content)
        except ValueError:
            ip = None
        wanted = 4 if kind == "A" else 6
        if ip is None or ip.version != wanted:
            raise CloudflareError(
                400,
                9005,
                f"Content for {kind} record is invalid. Must be a valid IPv{wanted} address.",
            )
        return str(ip)
    if kind in HOSTNAME_CONTENT:
        content = content.lower().rstrip(".")
        if not _hostname_ok(content):
            raise CloudflareError(400, 9005, f"Content for {kind} record is invalid.")
    return content


def _proxied(kind: str, proxied: Any) -> bool:
    if not isinstance(proxied, bool):
        raise CloudflareError(400, 9003, "Invalid 'proxied' value, must be a boolean.")
    if proxied and kind not in PROXIABLE:
        raise CloudflareError(400, 9004, f"{kind} records cannot be proxied.")
    return proxied


@dataclass
class CloudflareState:
    """Everything the simulator knows; tests read `zones`, `records` and `requests`.

    Attributes:
        token: the only accepted API token (`Authorization: Bearer <token>`).
        faults: latency, random and forced faults, "already exists" and crash after create.
        seed: seeds `rng` (ids).
        min_ttl: the smallest TTL other than 1 ("automatic"); 30 on Enterprise zones.
        zones: zone objects by id.
        records: record objects by zone id, then record id (insertion order kept).
        requests: API requests seen (faulted ones included).
        rate_limit: authenticated requests allowed per `rate_window` seconds (Cloudflare's
            1,200 per 5 minutes); past it, 429 until the oldest request leaves the window.
        clock: monotonic seconds (tests pass a fake one).
    """

    token: str = "sim-token"  # noqa: S105 - the simulator's well-known test token
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    min_ttl: int = 60
    account: dict[str, str] = field(
        default_factory=lambda: {"id": "0" * 31 + "1", "name": "Simulated account"}
    )
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: int = 0
    rate_limit: int = 1200
    rate_window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(init=False)
    _hits: deque[float] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography

    def _new_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def take_rate(self) -> tuple[bool, int, int]:
        """Count one request against the rate limit.

        Returns:
            `(allowed, remaining, seconds until the window frees a slot)`; a refused request
            is not counted.
        """
        now = self.clock()
        while self._hits and self._hits[0] <= now - self.rate_window:
            self._hits.popleft()
        allowed = len(self._hits) < self.rate_limit
        if allowed:
            self._hits.append(now)
        reset = self._hits[0] + self.rate_window - now if self._hits else self.rate_window
        return allowed, self.rate_limit - len(self._hits), max(1, int(reset + 0.999))

    # -- zones -------------------------------------------------------------------------

    def add_zone(self, name: str, *, status: str = "active") -> dict[str, Any]:
        """Create a zone (what an operator does in the dashboard; not an API call here).

        Args:
            name: the zone's domain, e.g. `2.0.192.in-addr.arpa`.
            status: `initializing`, `pending`, `active` or `moved`.

        Returns:
            The zone object.
        """
        zone_id = self._new_id()
        stamp = _now()
        zone = {
            "id": zone_id,
            "name": name.lower().rstrip("."),
            "status": status,
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": [],
            "original_registrar": None,
            "original_dnshost": None,
            "vanity_name_servers": [],
            "account": dict(self.account),
            "owner": {"id": None, "type": "user", "email": None},
            "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
            "plan": {"id": "0" * 32, "name": "Free Website", "price": 0, "currency": "USD"},
            "meta": {"page_rule_quota": 3, "phishing_detected": False, "step": 2},
            "created_on": stamp,
            "modified_on": stamp,
            "activated_on": stamp if status == "active" else None,
        }
        self.zones[zone_id] = zone
        self.records[zone_id] = {}
        return zone

    def zone(self, zone_id: str) -> dict[str, Any]:
        """The zone with this id.

        Raises:
            CloudflareError: 400/7003 for a malformed id, 404/1001 for an unknown one.
        """
        if not is_identifier(zone_id):
            raise CloudflareError(
                400,
                7003,
                f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?",
            )
        found = self.zones.get(zone_id)
        if found is None:
            raise CloudflareError(404, 1001, "Invalid zone identifier")
        return found

    # -- records -----------------------------------------------------------------------

    def record(self, zone_id: str, record_id: str) -> dict[str, Any]:
        """The record with this id in this zone.

        Raises:
            CloudflareError: the zone is unknown, or 404/81044 for an unknown record.
        """
        self.zone(zone_id)
        found = self.records[zone_id].get(record_id)
        if found is None:
            raise CloudflareError(404, 81044, "Record does not exist.")
        return found

    def _full_name(self, zone: dict[str, Any], given: Any) -> str:
        if not isinstance(given, str) or not given.strip():
            raise CloudflareError(400, 9007, "DNS record name is required.")
        name = given.strip().lower().rstrip(".")
        if name == "@":
            name = str(zone["name"])
        elif name != zone["name"] and not name.endswith("." + zone["name"]):
            name = f"{name}.{zone['name']}"  # a relative name, as the dashboard allows
        if len(name) > 255 or not _hostname_ok(name.removeprefix("*.")):
            raise CloudflareError(400, 9000, "DNS name is invalid.")
        return name

    def _validated(self, zone: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """The writable fields of a record from a full body, checked and normalised."""
        kind = body.get("type")
        if not isinstance(kind, str) or kind.upper() not in RECORD_TYPES:
            raise CloudflareError(400, 9004, "DNS record type is invalid.")
        kind = kind.upper()
        fields: dict[str, Any] = {
            "type": kind,
            "name": self._full_name(zone, body.get("name")),
            "content": _content(kind, body.get("content")),
            "ttl": self._ttl(body.get("ttl", 1)),
            "proxied": _proxied(kind, body.get("proxied", False)),
            "comment": body.get("comment"),
            "tags": body.get("tags", []),
        }
        comment = fields["comment"]
        if comment is not None and (not isinstance(comment, str) or len(comment) > 100):
            raise CloudflareError(400, 9102, "DNS record comment is invalid.")
        tags = fields["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise CloudflareError(400, 9101, "DNS record tags are invalid.")
        fields["tags"] = list(tags)
        if kind in ("MX", "URI"):
            priority = body.get("priority", 10)
            if (
                isinstance(priority, bool)
                or not isinstance(priority, int)
                or not 0 <= priority <= 65535
            ):
                raise CloudflareError(400, 9100, "Priority is invalid.")
            fields["priority"] = priority
        return fields

    def _ttl(self, ttl: Any) -> int:
        if (
            isinstance(ttl, bool)
            or not isinstance(ttl, int | float)
            or ttl != int(ttl)
            or not (ttl == 1 or self.min_ttl <= ttl <= 86400)
        ):
            raise CloudflareError(
                400,
                9021,
                f"Invalid TTL. Must be between {self.min_ttl} and 86400 seconds, or 1 for "
                "Automatic.",
            )
        return int(ttl)

    def _check_conflicts(self, zone_id: str, fields: dict[str, Any], own_id: str | None) -> None:
        """Cloudflare's refusals of a record beside the others of its name.

        Raises:
            CloudflareError: 81058 identical record; 81053 a CNAME beside other records of
                its name; 81054 a record beside a CNAME of its name.
        """
        same_name = [
            r
            for r in self.records[zone_id].values()
            if r["name"] == fields["name"] and r["id"] != own_id
        ]
        for other in same_name:
            if other["type"] == fields["type"] and other["content"] == fields["content"]:
                raise CloudflareError(400, 81058, "An identical record already exists.")
        if fields["type"] == "CNAME" and same_name:
            raise CloudflareError(
                400, 81053, "An A, AAAA, or CNAME record with that host already exists."
            )
        if any(r["type"] == "CNAME" for r in same_name):
            raise CloudflareError(400, 81054, "A CNAME record with that host already exists.")

    def create_record(self, zone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /zones/{zone_id}/dns_records`: check, refuse duplicates, store.

        Raises:
            CloudflareError: an unknown zone, invalid input or a conflict.
        """
        zone = self.zone(zone_id)
        fields = self._validated(zone, body)
        self._check_conflicts(zone_id, fields, None)
        stamp = _now()
        record = {
            "id": self._new_id(),
            "zone_id": zone_id,
            "zone_name": zone["name"],
            **fields,
            "proxiable": fields["type"] in PROXIABLE,
            "locked": False,
            "meta": {
                "auto_added": False,
                "managed_by_apps": False,
                "managed_by_argo_tunnel": False,
                "source": "primary",
            },
            "created_on": stamp,
            "modified_on": stamp,
        }
        self.records[zone_id][record["id"]] = record
        return record

    def replace_record(
        self, zone_id: str, record_id: str, body: dict[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        """`PUT` (`partial=False`: the body is the whole record) or `PATCH` (given fields).

        Raises:
            CloudflareError: an unknown zone or record, invalid input or a conflict.
        """
        record = self.record(zone_id, record_id)
        zone = self.zones[zone_id]
        merged: dict[str, Any]
        if partial:
            merged = {
                key: record[key]
                for key in (
                    "type",
                    "name",
                    "content",
                    "ttl",
                    "proxied",
                    "comment",
                    "tags",
                    "priority",
                )
                if key in record
            }
            merged.update(body)
        else:
            merged = dict(body)
        fields = self._validated(zone, merged)
        self._check_conflicts(zone_id, fields, record_id)
        record.pop("priority", None)
        record.update(fields, proxiable=fields["type"] in PROXIABLE, modified_on=_now())
        return record

    def delete_record(self, zone_id: str, record_id: str) -> dict[str, Any]:
        """`DELETE`: forget the record; answers `{"id": ...}`.

        Raises:
            CloudflareError: an unknown zone or record.
        """
        self.record(zone_id, record_id)
        del self.records[zone_id][record_id]
        return {"id": record_id}

    def find_records(self, zone_id: str, **exact: str) -> list[dict[str, Any]]:
        """Records of a zone whose fields equal `exact` (for tests: `type="PTR"`, `name=...`)."""
        return [
            r
            for r in self.records.get(zone_id, {}).values()
            if all(str(r.get(k)) == v for k, v in exact.items())
        ]

    def dump(self) -> dict[str, Any]:
        """Everything, JSON-ready (`GET /_sim/state`)."""
        return {
            "zones": list(self.zones.values()),
            "records": {zid: list(recs.values()) for zid, recs in self.records.items()},
            "requests": self.requests,
            "faults": self.faults.describe(),
        }
