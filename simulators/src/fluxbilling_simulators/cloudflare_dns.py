"""What Cloudflare's authoritative servers would answer for the simulator's zones.

Cloudflare answers DNS for its zones from the same records its API edits; the simulator has
no DNS listener of its own, so `CloudflareDns` gives its state as a `RecordSource` of the
product's DNS server (`fluxbilling.network.dnsserver.DnsServer`): a test starts one over it and
points the Cloudflare rDNS backend at it (`FLUXBILLING_RDNS_NAMESERVER`), and the network
phase's forward-confirmed check then asks a real DNS server what the simulator holds.

Record names and name-valued contents (PTR, CNAME, NS, MX targets) are stored without the
trailing dot, as Cloudflare's API shows them; here they are made absolute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fluxbilling.network.dnsserver import Row
from fluxbilling_simulators._cloudflare_state import CloudflareState

__all__ = ["CloudflareDns"]

_NAMES = frozenset({"PTR", "CNAME", "NS"})


def _absolute(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


@dataclass
class CloudflareDns:
    """The simulator's active zones and records, as a DNS server reads them."""

    state: CloudflareState

    async def zones(self) -> Sequence[str]:
        """Every active zone."""
        return [_absolute(z["name"]) for z in self.state.zones.values() if z["status"] == "active"]

    def _all(self) -> list[Row]:
        rows = []
        for zone_id, records in self.state.records.items():
            if self.state.zones[zone_id]["status"] != "active":
                continue
            for r in records.values():
                content = str(r["content"])
                if r["type"] in _NAMES:
                    content = _absolute(content)
                ttl = int(r["ttl"])  # 1 is Cloudflare's "automatic": 300 s
                rows.append(Row(_absolute(r["name"]), r["type"], content, 300 if ttl == 1 else ttl))
        return rows

    async def rows(self, name: str) -> Sequence[Row]:
        """The records owned by `name`."""
        return [r for r in self._all() if r.name == name]

    async def has_below(self, name: str) -> bool:
        """Whether a record is owned by a name below `name`."""
        return any(r.name.endswith("." + name) for r in self._all())
