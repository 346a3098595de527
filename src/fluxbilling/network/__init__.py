"""Networking decisions: address management, the firewall policy and its nftables rendering, DCIM records.

Import the modules, not their names: `from fluxbilling.network import ipam` then
`ipam.first_free(prefix, used)`.
"""

from __future__ import annotations

from fluxbilling.network import dcim, firewall, ipam, nftables

__all__ = ["dcim", "firewall", "ipam", "nftables"]
