"""Where a service lives: the DCIM record (location, host, address) of one provisioned service.

`dcim_record(...)` validates and normalises the facts the provisioning run decided; the
service layer stores the record or pushes `to_dict()` to an inventory system (NetBox and
the like). Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fluxbilling import errors

__all__ = ["DcimRecord", "dcim_record"]

_LOCATION = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
_NAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


@dataclass(frozen=True, slots=True)
class DcimRecord:
    """The placement of one service.

    Attributes:
        service_id: our service id.
        location_code: data-centre / site code, uppercase (e.g. `FRA1`).
        host_name: the hypervisor or bare-metal host the service runs on.
        address: the service's primary address.
        hostname: the service's own host name (lowercase, no trailing dot).
    """

    service_id: str
    location_code: str
    host_name: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    hostname: str

    def to_dict(self) -> dict[str, str]:
        """JSON-safe form (all values strings), stable keys."""
        return {
            "service_id": self.service_id,
            "location_code": self.location_code,
            "host_name": self.host_name,
            "address": str(self.address),
            "hostname": self.hostname,
        }


def _name(value: str, what: str) -> str:
    name = value.strip().rstrip(".").lower()
    if not _NAME.match(name):
        raise errors.InvalidSettings(f"{what} {value!r} is not a valid DNS name")
    return name


def dcim_record(
    *,
    service_id: str,
    location_code: str,
    host_name: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    hostname: str,
) -> DcimRecord:
    """Build the validated, normalised DCIM record of a service.

    Args:
        service_id: our service id (non-empty).
        location_code: site code; normalised to uppercase.
        host_name: the host's name; normalised to lowercase without a trailing dot.
        address: the service's primary address.
        hostname: the service's host name; normalised like `host_name`.

    Returns:
        The record.

    Raises:
        errors.InvalidSettings: a value is empty or malformed.

    Examples:
        >>> from ipaddress import ip_address
        >>> dcim_record(service_id="svc-1", location_code="fra1", host_name="hv01",
        ...             address=ip_address("192.0.2.10"), hostname="vps1").location_code
        'FRA1'
    """
    service = service_id.strip()
    if not service:
        raise errors.InvalidSettings("service_id must not be empty")
    location = location_code.strip().upper()
    if not _LOCATION.match(location):
        raise errors.InvalidSettings(f"location code {location_code!r} is not a site code")
    return DcimRecord(
        service_id=service,
        location_code=location,
        host_name=_name(host_name, "host name"),
        address=address,
        hostname=_name(hostname, "hostname"),
    )
