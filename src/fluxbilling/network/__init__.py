"""Networking decisions: address management, the baseline firewall policy, DCIM records.

Import the modules, not their names: `from fluxbilling.network import ipam` then
`ipam.first_free(prefix, used)`.
"""

from __future__ import annotations

from fluxbilling.network import dcim, firewall, ipam

__all__ = ["dcim", "firewall", "ipam"]
